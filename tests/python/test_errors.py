"""absl::Status -> Python exceptions: one class per code, code and message preserved."""
import pytest

import libdpu


def test_hierarchy():
    assert issubclass(libdpu.InvalidArgumentError, libdpu.Error)
    assert issubclass(libdpu.InvalidArgumentError, ValueError)
    assert issubclass(libdpu.NotFoundError, LookupError)
    assert issubclass(libdpu.UnimplementedError, NotImplementedError)
    assert issubclass(libdpu.PermissionDeniedError, PermissionError)
    for code in libdpu.StatusCode.__members__.values():
        if code != libdpu.StatusCode.OK:
            e = libdpu._make_error(code, "m", None)
            assert isinstance(e, libdpu.Error) and e.code == code
            assert type(e).__name__ != "Error", code


def test_invalid_argument_names_the_token():
    with pytest.raises(libdpu.InvalidArgumentError) as e:
        libdpu.parse_rule("priority=10 dst_port=80 actions=drop")
    assert e.value.code == libdpu.StatusCode.INVALID_ARGUMENT
    assert "dst_port" in e.value.message
    assert str(e.value).startswith("INVALID_ARGUMENT: ")
    assert e.value.operation_index is None


def test_not_found():
    with pytest.raises(libdpu.NotFoundError) as e:
        libdpu.create_backend("nosuchbackend")
    assert e.value.code == libdpu.StatusCode.NOT_FOUND
    assert "reference" in e.value.message  # lists the known backends


def test_batch_error_carries_operation_index():
    b = libdpu.ReferenceBackend()
    ok = libdpu.parse_rule("priority=1 in_port=a actions=drop")
    with pytest.raises(libdpu.NotFoundError) as e:
        b.apply(upserts=[ok], deletes=[libdpu.FlowId.from_name("missing")])
    assert e.value.operation_index == 0
    assert len(b) == 0  # all-or-nothing: the upsert did not happen either


def test_unimplemented_stats_without_count():
    b = libdpu.create_backend("reference")
    rule = libdpu.parse_rule("priority=1 in_port=a actions=drop")
    b.apply(upserts=[rule])
    with pytest.raises(libdpu.UnimplementedError) as e:
        b.stats(rule.id)
    assert e.value.code == libdpu.StatusCode.UNIMPLEMENTED
    with pytest.raises(libdpu.NotFoundError):
        b.get(libdpu.FlowId.from_name("nope"))
