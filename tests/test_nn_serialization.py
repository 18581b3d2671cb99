"""Checkpoints: neurarust.save / neurarust.load (safetensors), exchange with safetensors.torch and
torch.save, nested state, and a clear error for each way a file can be broken."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import neurarust as nr
from neurarust import nn
from neurarust.serialization import CheckpointError


def _ours():
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def _theirs():
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))


X = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)


def _same_outputs(ours, theirs) -> None:
    np.testing.assert_allclose(ours(nr.tensor(X)).detach().numpy(), theirs(torch.tensor(X)).detach().numpy(),
                               rtol=1e-6, atol=1e-6)


def test_round_trip_keeps_dtypes_and_values(tmp_path):
    state = {"f32": nr.randn(2, 3), "f64": nr.randn(2, dtype=nr.float64), "f16": nr.randn(3).half(),
             "bf16": nr.randn(3).bfloat16(), "i64": nr.arange(4), "i8": nr.tensor([-1, 2], dtype=nr.int8),
             "u8": nr.tensor([255], dtype=nr.uint8), "b": nr.tensor([True, False]), "empty": nr.zeros(0, 2),
             "scalar": nr.tensor(3.5), "strided": nr.randn(3, 4).t()}
    path = tmp_path / "all.safetensors"
    nr.save(state, path)
    loaded = nr.load(path, device="cpu")
    assert set(loaded) == set(state)
    for k, v in state.items():
        assert loaded[k].dtype == v.dtype and loaded[k].shape == v.shape, k
        assert loaded[k].tolist() == v.tolist(), k
    assert [p.name for p in tmp_path.iterdir()] == ["all.safetensors"]  # atomic write leaves no temporary


def test_pytorch_checkpoint_loads_into_neurarust_model(tmp_path):
    theirs = _theirs()
    path = tmp_path / "torch.safetensors"
    save_file(theirs.state_dict(), str(path))
    ours = _ours()
    ours.load_state_dict(nr.load(path))
    _same_outputs(ours, theirs)


def test_neurarust_checkpoint_loads_into_pytorch_model(tmp_path):
    ours = _ours()
    path = tmp_path / "ours.safetensors"
    nr.save(ours.state_dict(), path)
    theirs = _theirs()
    theirs.load_state_dict(load_file(str(path)))
    _same_outputs(ours, theirs)


def test_pt_files_load_through_torch(tmp_path):
    theirs = _theirs().to(torch.bfloat16).float()
    path = tmp_path / "model.pt"
    torch.save({"model": theirs.state_dict(), "bf": torch.ones(2, dtype=torch.bfloat16), "epoch": 3}, path)
    obj = nr.load(path)
    assert obj["epoch"] == 3 and obj["bf"].dtype == nr.bfloat16 and obj["bf"].tolist() == [1.0, 1.0]
    ours = _ours()
    ours.load_state_dict(obj["model"])
    _same_outputs(ours, theirs)


def test_nested_state_is_json_metadata_not_pickle(tmp_path):
    state = {"state": {0: {"step": 10, "exp_avg": nr.ones(2)}, 1: {"step": 10, "exp_avg": nr.zeros(3)}},
             "param_groups": [{"lr": 1e-3, "betas": [0.9, 0.999], "params": [0, 1], "name": None,
                               "max": float("inf")}]}
    path = tmp_path / "opt.safetensors"
    nr.save(state, path)
    loaded = nr.load(path)
    assert loaded["state"][1]["exp_avg"].tolist() == [0.0, 0.0, 0.0] and loaded["state"][0]["step"] == 10
    assert loaded["param_groups"] == [{"lr": 1e-3, "betas": [0.9, 0.999], "params": [0, 1], "name": None,
                                       "max": float("inf")}]
    raw = path.read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    assert "state.0.exp_avg" in header and "neurarust" in header["__metadata__"]
    assert set(load_file(str(path))) == {"state.0.exp_avg", "state.1.exp_avg"}  # still a valid safetensors file
    with pytest.raises(CheckpointError, match="cannot save a object"):
        nr.save({"x": object()}, tmp_path / "bad.safetensors")
    assert not (tmp_path / "bad.safetensors").exists()


def test_failed_save_keeps_the_old_file(tmp_path):
    path = tmp_path / "m.safetensors"
    nr.save({"w": nr.ones(2)}, path)
    with pytest.raises(CheckpointError):
        nr.save({"w": nr.ones(2), "bad": {"k": {1.5: 2}}}, path)
    assert nr.load(path)["w"].tolist() == [1.0, 1.0]


def _write_good(path) -> bytes:
    nr.save({"alpha": nr.ones(4), "beta": nr.arange(3)}, path)
    return path.read_bytes()


def _header_len(raw: bytes) -> int:
    return int.from_bytes(raw[:8], "little")


def _rewrite_header(raw: bytes, edit) -> bytes:
    n = _header_len(raw)
    header = json.loads(raw[8:8 + n])
    edit(header)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return len(text).to_bytes(8, "little") + text + raw[8 + n:]


BROKEN = [
    ("too_short", lambda raw: raw[:5], "shorter than the 8-byte header length"),
    ("header_cut", lambda raw: raw[:20], "the header needs"),
    ("data_cut", lambda raw: raw[:-4], "truncated: tensor '(alpha|beta)' needs bytes"),
    ("bad_json", lambda raw: raw[:8] + b"{" * _header_len(raw) + raw[8 + _header_len(raw):], "not valid JSON"),
    ("bad_dtype", lambda raw: _rewrite_header(raw, lambda h: h["alpha"].update(dtype="Q7")), "tensor 'alpha' has unsupported dtype"),
    ("bad_size", lambda raw: _rewrite_header(raw, lambda h: h["alpha"].update(shape=[5])), "tensor 'alpha'"),
    ("bad_entry", lambda raw: _rewrite_header(raw, lambda h: h.update(alpha=3)), "entry for tensor 'alpha'"),
]


@pytest.mark.parametrize("name,corrupt,message", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_files_raise_naming_file_and_key(tmp_path, name, corrupt, message):
    path = tmp_path / "ckpt.safetensors"
    path.write_bytes(corrupt(_write_good(path)))
    with pytest.raises(CheckpointError, match=message) as info:
        nr.load(path)
    assert str(path) in str(info.value)


def test_mismatched_checkpoint_never_half_loads_the_model(tmp_path):
    path = tmp_path / "other.safetensors"
    nr.save(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)).state_dict(), path)
    ours = _ours()
    before = ours[0].weight.tolist()
    with pytest.raises(nn.StateDictError, match="size mismatch for 2.weight"):
        ours.load_state_dict(nr.load(path))
    assert ours[0].weight.tolist() == before


def test_missing_torch_file_and_corrupt_pt(tmp_path):
    with pytest.raises(FileNotFoundError):
        nr.load(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a zip file at all")
    with pytest.raises(CheckpointError, match="bad.pt"):
        nr.load(bad)


def test_convert_command_and_weights_only(tmp_path):
    import subprocess
    import sys

    torch.save(_theirs().state_dict(), tmp_path / "m.pth")
    subprocess.run([sys.executable, "-m", "neurarust.serialization", str(tmp_path / "m.pth"),
                    str(tmp_path / "m.safetensors")], check=True)
    assert set(load_file(str(tmp_path / "m.safetensors"))) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    with pytest.raises(nr.ArgumentError, match="weights_only"):
        nr.load(tmp_path / "m.safetensors", weights_only=False)
