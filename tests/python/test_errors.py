"""absl::Status -> Python exceptions: one class per code, code and message preserved."""
import pytest

import libdpu


def test_hierarchy():
    assert issubclass(libdpu.InvalidArgumentError, libdpu.Error)
    assert issubclass(libdpu.InvalidArgumentError, ValueError)
    assert issubclass(libdpu.NotFoundError, LookupError)
    assert issubclass(libdpu.UnimplementedError, NotImplementedError)
    assert issubclass(libdpu.PermissionDeniedError, PermissionError)
    expected = {
        "CANCELLED": libdpu.CancelledError, "UNKNOWN": libdpu.UnknownError,
        "INVALID_ARGUMENT": libdpu.InvalidArgumentError,
        "DEADLINE_EXCEEDED": libdpu.DeadlineExceededError, "NOT_FOUND": libdpu.NotFoundError,
        "ALREADY_EXISTS": libdpu.AlreadyExistsError,
        "PERMISSION_DENIED": libdpu.PermissionDeniedError,
        "RESOURCE_EXHAUSTED": libdpu.ResourceExhaustedError,
        "FAILED_PRECONDITION": libdpu.FailedPreconditionError, "ABORTED": libdpu.AbortedError,
        "OUT_OF_RANGE": libdpu.OutOfRangeError, "UNIMPLEMENTED": libdpu.UnimplementedError,
        "INTERNAL": libdpu.InternalError, "UNAVAILABLE": libdpu.UnavailableError,
        "DATA_LOSS": libdpu.DataLossError, "UNAUTHENTICATED": libdpu.UnauthenticatedError,
    }
    assert set(libdpu.StatusCode.__members__) == set(expected) | {"OK"}
    for name, cls in expected.items():
        code = libdpu.StatusCode.__members__[name]
        e = libdpu._make_error(code, "m", 3)
        assert type(e) is cls and issubclass(cls, libdpu.Error), name
        assert (e.code, e.message, e.operation_index, str(e)) == (code, "m", 3, f"{name}: m")
    assert issubclass(libdpu.DeadlineExceededError, TimeoutError)
    assert issubclass(libdpu.OutOfRangeError, ValueError)
    assert libdpu.Error("m").code == libdpu.StatusCode.UNKNOWN


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


def test_a_wrong_type_is_refused_naming_the_field():
    # Not a RuntimeError naming a C++ type: InvalidArgumentError "FIELD: expected ..., got TYPE".
    cases = {
        "link_state: expected a VfLinkState or auto, enable, disable, got int":
            lambda: libdpu.VfSettings(link_state=1),
        "proto: expected a VlanProtocol, 802.1Q or 802.1ad, got int":
            lambda: libdpu.VfSettings(vlan=5, proto=1),
        "trust: expected a bool, got str": lambda: libdpu.VfSettings(trust="on"),
        "spoofchk: expected a bool, got str": lambda: libdpu.VfSettings(spoofchk="off"),
        "match: expected a Match, got str":
            lambda: libdpu.FlowRule(priority=1, match="eth_type=ipv4"),
        "type: expected a TunnelType, vxlan or geneve, got int":
            lambda: libdpu.TunnelEncapAction(vni=1, src="1.1.1.1", dst="2.2.2.2", type=1),
        "classifier: expected a Match or None, got str":
            lambda: libdpu.ServiceChain("c", "p0", "p1", classifier="eth_type=ipv4"),
        "target: expected a Backend or None, got int":
            lambda: libdpu.compile_chains([], target=1),
        "start: expected a datetime or Unix seconds, got str":
            lambda: libdpu.SimulatedClock("yesterday"),
        "state: expected a PortFunctionState (ACTIVE or INACTIVE), active or inactive, "
        "got float":
            lambda: libdpu.PortManager("/nonexistent").set_port_function("p", 1, state=1.5),
    }
    for message, call in cases.items():
        with pytest.raises(libdpu.InvalidArgumentError) as e:
            call()
        assert e.value.message == message
    # The right types still work.
    assert libdpu.VfSettings(trust=True, spoofchk=False, link_state=libdpu.VfLinkState.AUTO)
    assert libdpu.TunnelEncapAction(vni=1, src="1.1.1.1", dst="2.2.2.2",
                                    type=libdpu.TunnelType.GENEVE).dst_port == 6081
    assert libdpu.FlowRule(priority=1, match=libdpu.Match(eth_type="ipv4")).match.eth_type == 0x800
