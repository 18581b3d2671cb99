"""Checkpoints and state dicts where a review found NeuraRust apart from PyTorch or unsafe: escaped
skeleton markers, corrupt offsets, reserved names, missing folders, metadata, unsupported .pt dtypes,
BatchNorm's num_batches_tracked and shape-[1] values for 0-d parameters."""
from __future__ import annotations

import json
import struct

import pytest
import torch

import neurarust as nr
from neurarust import nn
from neurarust.errors import ArgumentError
from neurarust.serialization import CheckpointError


# -- skeleton markers -------------------------------------------------------------------------
@pytest.mark.parametrize("marker", ["__float__", "__tensor__", "__dict__"])
def test_user_dict_with_a_marker_key_round_trips(tmp_path, marker):
    obj = {"w": nr.ones(1), "cfg": {marker: "1e3", "note": "kept"}, "alone": {marker: "x"}}
    nr.save(obj, tmp_path / "c.safetensors")
    back = nr.load(tmp_path / "c.safetensors")
    assert back["cfg"] == {marker: "1e3", "note": "kept"} and back["alone"] == {marker: "x"}


def test_non_finite_floats_still_round_trip(tmp_path):
    nr.save({"w": nr.ones(1), "v": [float("inf"), float("-inf")]}, tmp_path / "c.safetensors")
    assert nr.load(tmp_path / "c.safetensors")["v"] == [float("inf"), float("-inf")]


# -- corrupt headers --------------------------------------------------------------------------
def _write_header(path, entry: dict) -> None:
    header = json.dumps({"x": entry}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(16))


@pytest.mark.parametrize("offsets", [[0, None], ["0", "16"], [0.0, 16.0], [False, True]],
                         ids=["null", "strings", "floats", "bools"])
def test_non_integer_data_offsets_raise_checkpoint_error_naming_file_and_tensor(tmp_path, offsets):
    path = tmp_path / "bad.safetensors"
    _write_header(path, {"dtype": "F32", "shape": [4], "data_offsets": offsets})
    with pytest.raises(CheckpointError, match="tensor 'x' has invalid data_offsets") as info:
        nr.load(path)
    assert str(path) in str(info.value)


def test_unhashable_dtype_raises_checkpoint_error(tmp_path):
    path = tmp_path / "bad.safetensors"
    _write_header(path, {"dtype": ["F32"], "shape": [4], "data_offsets": [0, 16]})
    with pytest.raises(CheckpointError, match="tensor 'x' has unsupported dtype"):
        nr.load(path)


# -- names, folders and metadata at save time -------------------------------------------------
@pytest.mark.parametrize("obj", [{"__metadata__": nr.ones(2)}, {"__metadata__": nr.ones(2), "step": 3}],
                         ids=["flat", "nested"])
def test_reserved_tensor_name_is_refused_and_keeps_the_old_file(tmp_path, obj):
    path = tmp_path / "ckpt.safetensors"
    nr.save({"w": nr.ones(2)}, path)
    with pytest.raises(CheckpointError, match="'__metadata__' is reserved"):
        nr.save(obj, path)
    assert nr.load(path)["w"].tolist() == [1.0, 1.0]


def test_save_into_a_missing_folder_raises_naming_it(tmp_path):
    folder = tmp_path / "typo_dir" / "sub"
    with pytest.raises(CheckpointError, match=f"the folder {folder} does not exist"):
        nr.save({"w": nr.ones(1)}, folder / "m.safetensors")
    assert not (tmp_path / "typo_dir").exists()


def test_missing_folder_error_is_also_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        nr.save({"w": nr.ones(1)}, tmp_path / "nope" / "m.safetensors")


def test_string_metadata_is_stored(tmp_path):
    path = tmp_path / "m.safetensors"
    nr.save({"w": nr.ones(1)}, path, metadata={"epoch": "3"})
    raw = path.read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    assert header["__metadata__"]["epoch"] == "3"


@pytest.mark.parametrize("metadata,message", [({"a": 1}, "key 'a' has a int value"), ({1: "a"}, "got key 1"),
                                              (["a"], "got list"), ({"neurarust": "{}"}, "'neurarust' is reserved")],
                         ids=["int_value", "int_key", "not_a_dict", "reserved_key"])
def test_bad_metadata_raises_argument_error(tmp_path, metadata, message):
    with pytest.raises(ArgumentError, match=message):
        nr.save({"w": nr.ones(1)}, tmp_path / "m.safetensors", metadata=metadata)
    assert not (tmp_path / "m.safetensors").exists()


# -- .pt files with dtypes NeuraRust lacks ----------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.complex64, torch.uint16], ids=["complex64", "uint16"])
def test_pt_with_an_unsupported_dtype_names_file_and_key(tmp_path, dtype):
    path = tmp_path / "model.pt"
    torch.save({"ok": torch.ones(2), "layers": [{"freqs_cis": torch.ones(2, dtype=dtype)}]}, path)
    with pytest.raises(CheckpointError, match="tensor 'layers.0.freqs_cis' has unsupported dtype") as info:
        nr.load(path)
    assert str(path) in str(info.value)


# -- Module.load_state_dict -------------------------------------------------------------------
def _bn_state_without_count() -> dict:
    return {k: v for k, v in nn.BatchNorm1d(3).state_dict().items() if k != "num_batches_tracked"}


def test_batchnorm_strict_load_without_num_batches_tracked_succeeds():
    bn = nn.BatchNorm1d(3)
    assert str(bn.load_state_dict(_bn_state_without_count())) == "<All keys matched successfully>"
    assert bn.num_batches_tracked.item() == 0


def test_batchnorm_load_without_num_batches_tracked_keeps_the_count():
    # PyTorch fills the missing key with the module's own buffer: the count is left as it was.
    bn = nn.BatchNorm1d(3)
    bn(nr.randn(4, 3))
    result = bn.load_state_dict(_bn_state_without_count())
    assert bn.num_batches_tracked.item() == 1 and result.missing_keys == []


def test_nested_batchnorm_load_without_num_batches_tracked_does_not_touch_the_callers_dict():
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    state = {k: v for k, v in model.state_dict().items() if k != "1.num_batches_tracked"}
    model.load_state_dict(state)
    assert "1.num_batches_tracked" not in state


def test_torch_state_dict_of_version_2_still_needs_num_batches_tracked():
    state = torch.nn.BatchNorm1d(3).state_dict()  # carries _metadata: version 2 of BatchNorm
    del state["num_batches_tracked"]
    with pytest.raises(nn.StateDictError, match='Missing key.*"num_batches_tracked"'):
        nn.BatchNorm1d(3).load_state_dict(state)


class _Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(nr.tensor(1.0))
        self.register_buffer("offset", nr.tensor(0.0))


@pytest.mark.parametrize("assign", [False, True])
def test_shape_one_value_loads_into_a_0d_parameter_and_buffer(assign):
    m = _Scaled()
    m.load_state_dict({"scale": nr.tensor([2.0]), "offset": nr.tensor([3.0])}, assign=assign)
    assert m.scale.shape == () and m.scale.item() == 2.0
    assert m.offset.shape == () and m.offset.item() == 3.0


def test_other_shapes_still_mismatch_a_0d_parameter():
    with pytest.raises(nn.StateDictError, match="size mismatch for scale"):
        _Scaled().load_state_dict({"scale": nr.tensor([2.0, 3.0]), "offset": nr.tensor(0.0)})
