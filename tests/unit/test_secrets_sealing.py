"""Sealing and opening secrets: what opens, and everything that must not."""

from __future__ import annotations

import base64
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from ozymandias.cluster.records import SealedSecret
from ozymandias.secrets.keyring import KeyFile, KeyFileError, parse_key_file, write_new_key_file
from ozymandias.secrets.sealing import (
    KEY_BYTES,
    Sealed,
    SecretUnreadable,
    decode,
    encode,
    key_id_of,
    open_record,
    open_sealed,
    seal,
)

KEY = bytes(range(KEY_BYTES))
OTHER_KEY = bytes(reversed(range(KEY_BYTES)))
VALUES = {"password": "hunter2", "user": "webapp"}


def keys(*held: bytes) -> dict[str, bytes]:
    return {key_id_of(key): key for key in held}


def test_a_sealed_secret_opens_with_its_key_and_name() -> None:
    sealed = seal(KEY, "db", VALUES)
    assert sealed.key_id == key_id_of(KEY)
    assert b"hunter2" not in sealed.ciphertext
    assert open_sealed(keys(KEY), "db", sealed, ["password", "user"]) == VALUES


def test_each_sealing_takes_a_fresh_nonce() -> None:
    first, second = seal(KEY, "db", VALUES), seal(KEY, "db", VALUES)
    assert first.nonce != second.nonce
    assert first.ciphertext != second.ciphertext


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


@pytest.mark.parametrize(
    ("case", "held", "name", "alter", "expected_keys"),
    [
        ("a key the node does not hold", [OTHER_KEY], "db", None, ["password", "user"]),
        ("another name (the AAD)", [KEY], "other", None, ["password", "user"]),
        ("a tampered ciphertext", [KEY], "db", "ciphertext", ["password", "user"]),
        ("a tampered nonce", [KEY], "db", "nonce", ["password", "user"]),
        ("a key id swapped for another held key's", [KEY, OTHER_KEY], "db", "key_id", None),
        ("keys that differ from the record's", [KEY], "db", None, ["password"]),
    ],
)
def test_what_must_not_open(
    case: str, held: list[bytes], name: str, alter: str | None, expected_keys: list[str] | None
) -> None:
    sealed = seal(KEY, "db", VALUES)
    if alter == "ciphertext":
        sealed = replace(sealed, ciphertext=_flip_last_byte(sealed.ciphertext))
    elif alter == "nonce":
        sealed = replace(sealed, nonce=_flip_last_byte(sealed.nonce))
    elif alter == "key_id":
        sealed = replace(sealed, key_id=key_id_of(OTHER_KEY))
    with pytest.raises(SecretUnreadable) as refusal:
        open_sealed(keys(*held), name, sealed, expected_keys or ["password", "user"])
    assert "hunter2" not in str(refusal.value), case


def test_a_record_from_etcd_opens_and_holds_no_value() -> None:
    sealed = seal(KEY, "db", VALUES)
    record = SealedSecret(
        name="db",
        keys=sorted(VALUES),
        version=1,
        update_time=0.0,
        key_id=sealed.key_id,
        nonce=encode(sealed.nonce),
        ciphertext=encode(sealed.ciphertext),
    )
    assert b"hunter2" not in record.to_json()
    assert open_record(keys(KEY), SealedSecret.from_json(record.to_json())) == VALUES
    # A record copied under another name does not open there.
    moved = record.model_copy(update={"name": "db2"})
    with pytest.raises(SecretUnreadable):
        open_record(keys(KEY), moved)


def test_a_wrong_size_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        seal(b"short", "db", VALUES)


def test_nonce_and_ciphertext_round_trip_through_base64() -> None:
    sealed = seal(KEY, "db", VALUES)
    again = Sealed(sealed.key_id, decode(encode(sealed.nonce)), decode(encode(sealed.ciphertext)))
    assert open_sealed(keys(KEY), "db", again, sorted(VALUES)) == VALUES


def line(key: bytes) -> str:
    return base64.b64encode(key).decode()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "holds no key"),
        ("# only a comment\n", "holds no key"),
        ("not base64!\n", "not base64"),
        (line(b"x" * 16) + "\n", "32 bytes"),
    ],
)
def test_bad_key_files_are_refused(text: str, problem: str) -> None:
    with pytest.raises(KeyFileError, match=problem):
        parse_key_file(text)


def test_a_key_file_holds_several_keys_the_first_first() -> None:
    keyring = parse_key_file(f"# new\n{line(OTHER_KEY)}\n{line(KEY)}  # old\n")
    assert list(keyring.keys) == [key_id_of(OTHER_KEY), key_id_of(KEY)]
    assert keyring.first_id == key_id_of(OTHER_KEY)


def test_keygen_writes_a_private_file_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "key"
    key_id = write_new_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KeyFile(path).keyring().first_id == key_id
    with pytest.raises(FileExistsError):
        write_new_key_file(path)


def test_a_key_file_others_may_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "key"
    write_new_key_file(path)
    key_file = KeyFile(path)
    key_file.keyring()
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        key_file.keyring()


def test_a_key_added_to_the_file_is_seen_without_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "key"
    first = write_new_key_file(path)
    key_file = KeyFile(path)
    assert list(key_file.keyring().keys) == [first]
    with path.open("a") as file:
        file.write(line(KEY) + "\n")
    assert list(key_file.keyring().keys) == [first, key_id_of(KEY)]


def test_a_missing_key_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read"):
        KeyFile(tmp_path / "absent").keyring()
