"""tests/support/haproxy_state.py reads `show servers state` as HAProxy 2.6 writes it."""

from __future__ import annotations

import pytest

from tests.support.haproxy_state import parse_servers_state, serving

HEADER = (
    "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight"
    " srv_iweight srv_time_since_last_change srv_check_status srv_check_result"
    " srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id"
    " srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr"
    " srv_agent_addr srv_agent_port\n"
)


def line(server: str, address: str, op_state: int, admin_state: int) -> str:
    return (
        f"3 http-web 1 {server} {address} {op_state} {admin_state} 1 1 7 1 0 0 0 0 0 0"
        " - 3000 - 0 0 - - 0\n"
    )


@pytest.mark.parametrize(
    ("op_state", "admin_state", "serves"),
    [
        (2, 0, True),  # filled when the config was written
        (2, 4, True),  # `disabled` in the config, then `state ready`: only the mark is left
        (0, 5, False),  # `disabled` in the config: an empty slot
        (0, 1, False),  # `state maint`
        (2, 8, False),  # drained
        (0, 0x20, False),  # maintenance for want of an address
    ],
)
def test_which_servers_take_traffic(op_state: int, admin_state: int, serves: bool) -> None:
    backends = parse_servers_state(HEADER + line("s0", "10.0.0.2", op_state, admin_state))
    assert serving(backends["http-web"]) == ({("10.0.0.2", 3000)} if serves else set())


def test_servers_are_kept_by_backend_in_slot_order() -> None:
    text = HEADER + line("s0", "10.0.0.2", 2, 0) + line("s1", "127.0.0.1", 0, 5)
    servers = parse_servers_state(text)["http-web"]
    assert [server.name for server in servers] == ["s0", "s1"]
    assert str(servers[1]) == "s1 127.0.0.1:3000 op 0 admin 5"


def test_an_answer_that_is_not_the_servers_state_is_refused() -> None:
    with pytest.raises(ValueError, match="version 1"):
        parse_servers_state("Unknown command.\n")
