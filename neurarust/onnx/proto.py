"""Reading ONNX protobufs: a model from a path, bytes or a ModelProto, tensors as NumPy arrays,
node attributes as Python values, ONNX element types as NeuraRust dtypes.

Every failure of the ``onnx`` package on bad input (a protobuf that does not parse, a tensor whose
data does not match its dims, an attribute of no known type) becomes an
:class:`~neurarust.errors.OnnxError` naming what is wrong::

    >>> from neurarust.onnx.proto import read_model
    >>> try:
    ...     read_model(b"not an onnx file")
    ... except ValueError as e:
    ...     print(type(e).__name__)
    OnnxError
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from neurarust import dtype as _dt
from neurarust.errors import OnnxError

# TensorProto.DataType codes NeuraRust has a dtype for.
ONNX_DTYPES: dict[int, _dt.DType] = {
    1: _dt.float32, 2: _dt.uint8, 3: _dt.int8, 5: _dt.int16, 6: _dt.int32, 7: _dt.int64, 9: _dt.bool_,
    10: _dt.float16, 11: _dt.float64, 16: _dt.bfloat16,
}


def _onnx():
    try:
        import onnx
    except ImportError as e:  # the light core never needs onnx
        raise OnnxError("neurarust.onnx needs the onnx package: pip install onnx") from e
    return onnx


def read_model(source: Any):
    """An ``onnx.ModelProto`` from a path, the file's bytes or a ModelProto (returned as is).

    >>> import onnx, onnx.helper as h
    >>> from neurarust.onnx.proto import read_model
    >>> g = h.make_graph([h.make_node("Relu", ["x"], ["y"])], "g",
    ...                  [h.make_tensor_value_info("x", 1, [2])], [h.make_tensor_value_info("y", 1, [2])])
    >>> read_model(h.make_model(g).SerializeToString()).graph.node[0].op_type
    'Relu'
    """
    onnx = _onnx()
    if isinstance(source, onnx.ModelProto):
        return source
    base = None
    if isinstance(source, (str, os.PathLike)):
        base = os.path.dirname(os.fspath(source))
        with open(source, "rb") as f:
            source = f.read()
    if not isinstance(source, (bytes, bytearray, memoryview)):
        raise OnnxError(f"onnx.load expects a path, bytes or an onnx.ModelProto, got {type(source).__name__}")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(bytes(source))
    except Exception as e:  # protobuf's DecodeError and friends: the bytes are not a ModelProto
        raise OnnxError(f"not a valid ONNX model ({len(source)} bytes): {e}") from e
    if base is not None and _has_external_data(model):
        try:
            from onnx.external_data_helper import load_external_data_for_model

            load_external_data_for_model(model, base)
        except Exception as e:
            raise OnnxError(f"the model's external tensor data could not be read from {base!r}: {e}") from e
    return model


def _has_external_data(model) -> bool:
    return any(t.data_location == 1 for t in model.graph.initializer)


def to_array(proto, what: str) -> np.ndarray:
    """A TensorProto's value as a writable NumPy array; ``what`` names it in errors.

    >>> import numpy as np, onnx.numpy_helper as nh
    >>> from neurarust.onnx.proto import to_array
    >>> to_array(nh.from_array(np.arange(3, dtype=np.int64)), "t").tolist()
    [0, 1, 2]
    """
    if proto.data_type not in ONNX_DTYPES:
        raise OnnxError(f"{what}: ONNX element type {_type_name(proto.data_type)} is not supported "
                        f"(supported: {', '.join(_type_name(c) for c in ONNX_DTYPES)})")
    if proto.data_location == 1 and not proto.raw_data:
        raise OnnxError(f"{what}: its data is stored outside the model; load the model from its path "
                        f"so the external file can be found")
    if any(d < 0 for d in proto.dims):
        raise OnnxError(f"{what}: negative dims {list(proto.dims)}")
    from onnx import numpy_helper

    try:
        arr = numpy_helper.to_array(proto)
    except Exception as e:  # data that does not fill the dims, a bad raw_data length, ...
        raise OnnxError(f"{what}: its data does not match its dims {list(proto.dims)} "
                        f"and type {_type_name(proto.data_type)}: {e}") from e
    want = ONNX_DTYPES[proto.data_type].np
    return np.array(arr, dtype=want, copy=True)


def _type_name(code: int) -> str:
    try:
        return _onnx().TensorProto.DataType.Name(code)
    except ValueError:
        return f"<type {code}>"


# AttributeProto types decoded to Python values: FLOAT(S), INT(S), STRING(S).
_PLAIN = (1, 2, 3, 6, 7, 8)


def attributes(node) -> dict[str, Any]:
    """A node's attributes as Python values: ints, floats, strings (decoded), lists of them, and
    tensors as NumPy arrays.

    >>> import onnx.helper as h
    >>> from neurarust.onnx.proto import attributes
    >>> attributes(h.make_node("Gemm", ["a", "b"], ["c"], transB=1, alpha=0.5))
    {'alpha': 0.5, 'transB': 1}
    """
    from onnx import helper

    out: dict[str, Any] = {}
    for attr in node.attribute:
        where = f"attribute {attr.name!r} of node {node.name!r} ({node.op_type})"
        if attr.type in (attr.TENSOR, attr.TENSORS):
            values = [attr.t] if attr.type == attr.TENSOR else list(attr.tensors)
            arrays = [to_array(t, where) for t in values]
            out[attr.name] = arrays[0] if attr.type == attr.TENSOR else arrays
            continue
        if attr.type not in _PLAIN:  # graphs, sparse tensors, type protos: no supported op takes them
            out[attr.name] = attr
            continue
        try:
            value = helper.get_attribute_value(attr)
        except Exception as e:
            raise OnnxError(f"{where} could not be read: {e}") from e
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode("utf-8", "replace") for v in value]
        out[attr.name] = value
    return out
