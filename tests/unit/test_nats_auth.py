"""The NATS users LAPOR generates: names the runtime uses, passwords that agree with the URLs."""

from __future__ import annotations

from shared.runtime import messaging, nats_auth


def test_the_names_are_the_runtimes() -> None:
    assert nats_auth.STREAM_NAME == messaging.STREAM_NAME
    assert nats_auth.ALL_EVENTS == messaging.ALL_EVENTS
    assert nats_auth.DEAD_LETTER_PREFIX == messaging.DEAD_LETTER_PREFIX


def test_passwords_are_derived_and_the_printed_url_carries_them() -> None:
    secret = b"s3cret"
    password = nats_auth.nats_password(secret, "agency-DINKES-KOTA-KUPANG")
    assert password == nats_auth.nats_password(secret, "agency-DINKES-KOTA-KUPANG")
    assert password != nats_auth.nats_password(b"other", "agency-DINKES-KOTA-KUPANG")
    assert password != nats_auth.nats_password(secret, "agency-DPUPR-KOTA-KUPANG")
    config = nats_auth.server_accounts(secret, ["DINKES-KOTA-KUPANG"])
    assert f'"agency-DINKES-KOTA-KUPANG", password: "{password}"' in config
    url = nats_auth.with_credentials("nats://a:4222,nats://b:4222", "ops", "pw")
    assert url == "nats://ops:pw@a:4222,nats://ops:pw@b:4222"
    assert nats_auth.process_credentials(url, secret, "ops") is None  # the URL says who
    assert nats_auth.process_credentials("nats://a:4222", secret, "intake") == {
        "user": "intake",
        "password": nats_auth.nats_password(secret, "intake"),
    }
