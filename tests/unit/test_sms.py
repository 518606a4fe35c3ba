"""SMS 1708 grammar and GSM-7 helpers."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from shared.directory.model import RESERVED_KEYWORDS, Directory, default_directory
from shared.reports.tracking import new_tracking_id
from shared.sms.grammar import (
    COMMANDS,
    HELP_TEXT,
    Escalate,
    Invalid,
    KeywordTarget,
    NewReport,
    PollAnswer,
    Reply,
    SmsGrammar,
    StatusQuery,
    parse_sms,
)
from shared.sms.gsm7 import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    fit_one_sms,
    is_gsm7,
    septet_length,
    sms_encoding,
    sms_segments,
    to_gsm7,
)

TID = new_tracking_id()


@pytest.fixture(scope="module")
def grammar() -> SmsGrammar:
    return SmsGrammar.from_directory(default_directory())


def parse(text: str) -> object:
    return parse_sms(text, default_directory())


# --- region keywords -------------------------------------------------------------------------


KUPANG_OTHERS = ("KAB KUPANG",)  # KUPANG alone is the city; the regency is KAB KUPANG


@pytest.mark.parametrize(
    ("message", "region", "agency", "keyword", "text", "others"),
    [
        ("KUPANG jalan rusak", "5371", "PEMKOT-KUPANG", "KUPANG", "jalan rusak", KUPANG_OTHERS),
        ("KOTKUPANG jalan rusak", "5371", "PEMKOT-KUPANG", "KOT KUPANG", "jalan rusak", ()),
        ("kota kupang jalan rusak", "5371", "PEMKOT-KUPANG", "KOTA KUPANG", "jalan rusak", ()),
        ("KOTAKUPANG jalan rusak", "5371", "PEMKOT-KUPANG", "KOTA KUPANG", "jalan rusak", ()),
        (
            "timor tengah utara  jalan rusak",
            "5303",  # Kemendagri 53.03 (the pilot's BPS-style 5305 is Alor's code)
            "PEMKAB-TTU",
            "TIMOR TENGAH UTARA",
            "jalan rusak",
            (),
        ),
        (
            "  TIMOR   Tengah\tUTARA \n Puskesmas tutup  ",
            "5303",
            "PEMKAB-TTU",
            "TIMOR TENGAH UTARA",
            "Puskesmas tutup",
            (),
        ),
        ("TIMOR-TENGAH-UTARA jalan", "5303", "PEMKAB-TTU", "TIMOR TENGAH UTARA", "jalan", ()),
        ("TimorTengahUtara jalan", "5303", "PEMKAB-TTU", "TIMOR TENGAH UTARA", "jalan", ()),
        ("TTU obat habis", "5303", "PEMKAB-TTU", "TTU", "obat habis", ()),
        ("ttu obat habis", "5303", "PEMKAB-TTU", "TTU", "obat habis", ()),
        ("ALOR sekolah rusak", "5305", "PEMKAB-ALOR", "ALOR", "sekolah rusak", ()),
        ("SURABAYA jalan", "3578", "PEMKOT-SURABAYA", "SURABAYA", "jalan", ()),
        ("KAB MALANG air", "3507", "PEMKAB-MALANG", "KAB MALANG", "air", ()),
        ("Kab. Malang air", "3507", "PEMKAB-MALANG", "KAB MALANG", "air", ()),
        ("MALANG banjir", "3573", "PEMKOT-MALANG", "MALANG", "banjir", ("KAB MALANG",)),
        ("JAKSEL macet", "3174", "PEMKOT-ADM-JAKARTA-SELATAN", "JAKSEL", "macet", ()),
        (
            "BLITAR sekolah rusak",
            "3572",
            "PEMKOT-BLITAR",
            "BLITAR",
            "sekolah rusak",
            ("KAB BLITAR",),
        ),
        # a bare name shared by a province and its capital city is the city's
        (
            "BENGKULU jalan kota",
            "1771",
            "PEMKOT-BENGKULU",
            "BENGKULU",
            "jalan kota",
            ("PROV BENGKULU",),
        ),
        ("PROV BENGKULU jalan", "17", "PEMPROV-BENGKULU", "PROV BENGKULU", "jalan", ()),
        # a keyword that is a prefix of another: the longest wins
        (
            "BENGKULU UTARA jembatan putus",
            "1703",
            "PEMKAB-BENGKULU-UTARA",
            "BENGKULU UTARA",
            "jembatan putus",
            (),
        ),
        (
            "bengkulu   utara jembatan",
            "1703",
            "PEMKAB-BENGKULU-UTARA",
            "BENGKULU UTARA",
            "jembatan",
            (),
        ),
        ("BATU BARA jalan", "1219", "PEMKAB-BATU-BARA", "BATU BARA", "jalan", ()),
        ("BATU jalan", "3579", "PEMKOT-BATU", "BATU", "jalan", ()),
        # ... but only as whole words
        (
            "BENGKULU UTARANYA rusak",
            "1771",
            "PEMKOT-BENGKULU",
            "BENGKULU",
            "UTARANYA rusak",
            ("PROV BENGKULU",),
        ),
        ("KAB KUPANG air mati", "5301", "PEMKAB-KUPANG", "KAB KUPANG", "air mati", ()),
        ("KABUPATEN KUPANG air mati", "5301", "PEMKAB-KUPANG", "KABUPATEN KUPANG", "air mati", ()),
        # punctuation right after the keyword is dropped; the text keeps its own lines
        ("KUPANG: jalan rusak", "5371", "PEMKOT-KUPANG", "KUPANG", "jalan rusak", KUPANG_OTHERS),
        ("KUPANG - jalan rusak", "5371", "PEMKOT-KUPANG", "KUPANG", "jalan rusak", KUPANG_OTHERS),
        ("KUPANG,jalan rusak", "5371", "PEMKOT-KUPANG", "KUPANG", "jalan rusak", KUPANG_OTHERS),
        ("KUPANG jalan\nrusak", "5371", "PEMKOT-KUPANG", "KUPANG", "jalan\nrusak", KUPANG_OTHERS),
        ("KUPANG\njalan rusak", "5371", "PEMKOT-KUPANG", "KUPANG", "jalan rusak", KUPANG_OTHERS),
        ("NTT 🙏 tolong", "53", "PEMPROV-NTT", "NTT", "🙏 tolong", ()),
    ],
)
def test_region_keyword(
    message: str, region: str, agency: str, keyword: str, text: str, others: tuple[str, ...]
) -> None:
    assert parse(message) == NewReport(text, region, agency, keyword, others)


@pytest.mark.parametrize(
    "message",
    [
        "KUPANGAN jalan rusak",  # starts with a keyword's letters, not the keyword
        "KUPANG2 jalan",
        "KUPANGé jalan",
        "TTUX jalan",
        "TIMOR TENGAH jalan rusak",  # only part of a multi-word keyword
        "jalan rusak di KUPANG",  # the keyword must come first
        "Mohon perbaikan jalan",
        "ＫＵＰＡＮＧ jalan",  # full-width letters are not the keyword
        "KUPANG\u0301 jalan",  # nor with a combining accent
    ],
)
def test_no_keyword_goes_to_the_national_desk(message: str) -> None:
    result = parse(message)
    assert result == NewReport(message.strip())
    assert isinstance(result, NewReport) and result.region_code is None


def test_keyword_without_text_is_invalid() -> None:
    for message in ("KUPANG", "  timor tengah utara  ", "KUPANG : - "):
        result = parse(message)
        assert isinstance(result, Invalid) and result.code == "missing_text", message
        assert "KUPANG" in result.reason or "TIMOR" in result.reason


def test_parse_sms_takes_a_grammar_or_a_directory(grammar: SmsGrammar) -> None:
    assert parse_sms("TTU x", grammar) == parse_sms("TTU x", default_directory())


def test_grammar_from_a_plain_mapping() -> None:
    grammar = SmsGrammar(
        {
            "ab": KeywordTarget("53", "A"),
            "ab  cd": KeywordTarget("5371", "B"),
            "ab cd ef": KeywordTarget("5305", "C"),
            " ": KeywordTarget(None, "IGNORED"),
        }
    )
    assert grammar.parse("AB CD EF x") == NewReport("x", "5305", "C", "AB CD EF")
    assert grammar.parse("ab cd x") == NewReport("x", "5371", "B", "AB CD")
    assert grammar.parse("ab cdx") == NewReport("cdx", "53", "A", "AB")
    assert grammar.match_keyword("ab cd ef") == ("AB CD EF", 8)
    assert grammar.match_keyword("abc") is None


def test_a_keyword_of_a_national_institution_has_no_region() -> None:
    grammar = SmsGrammar({"LAPOR": KeywordTarget(None, "KEMENPANRB")})
    assert grammar.parse("lapor pungli") == NewReport("pungli", None, "KEMENPANRB", "LAPOR")


def test_keywords_from_a_loaded_directory() -> None:
    raw = default_directory().to_dict()
    for institution in raw["institutions"]:
        if institution["code"] == "PEMKOT-KUPANG":
            institution["sms_keywords"] = ["KUPANG", "KUPANG TIMUR"]
    grammar = SmsGrammar.from_directory(Directory.from_dict(raw))
    result = grammar.parse("kupang timur banjir")
    assert isinstance(result, NewReport) and result.keyword == "KUPANG TIMUR"


# --- commands --------------------------------------------------------------------------------


def grouped(tracking_id: str) -> str:
    return f"{tracking_id[:5]}-{tracking_id[5:]}"


@pytest.mark.parametrize(
    "message",
    [
        f"CEK {TID}",
        f"cek {TID.lower()}",
        f"  Cek   {TID}  ",
        f"CEK {grouped(TID)}",
        f"CEK {TID[:5]} {TID[5:]}",
        f"CEK\n{TID}",
    ],
)
def test_status_query(message: str) -> None:
    assert parse(message) == StatusQuery(TID)


def test_status_query_maps_look_alikes() -> None:
    # 0 and 1 are read as O and I, which are not in the alphabet: the ID is rejected, not guessed
    result = parse("CEK " + "0" * 10)
    assert isinstance(result, Invalid) and result.code == "bad_tracking_id"


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("CEK", "missing_tracking_id"),
        ("CEK   ", "missing_tracking_id"),
        ("CEK ABC", "bad_tracking_id"),
        (f"CEK {TID}X", "bad_tracking_id"),
        (f"CEK {TID} tolong", "bad_tracking_id"),
        ("BALAS", "missing_tracking_id"),
        ("BALAS ABCDEFGHJK terima kasih", "bad_tracking_id"),  # wrong check character
        (f"BALAS {TID}", "missing_text"),
        (f"BALAS {TID}   ", "missing_text"),
        ("ESKALASI", "missing_tracking_id"),
        ("ESKALASI ABCDEFGHJK", "bad_tracking_id"),
        ("POLL", "bad_poll_code"),
        ("POLL KOTA_2024 1", "bad_poll_code"),
        ("POLL ÅB 1", "bad_poll_code"),
        ("POLL " + "A" * 33 + " 1", "bad_poll_code"),
        ("POLL TAMAN-KOTA", "missing_choice"),
        ("POLL TAMAN " + "x" * 101, "missing_choice"),
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("\u200b\ufeff", "empty"),
        ("x" * 10_001, "too_long"),
    ],
)
def test_invalid(message: str, code: str) -> None:
    result = parse(message)
    assert isinstance(result, Invalid)
    assert result.code == code
    assert result.reason


def test_wrong_check_character_is_rejected() -> None:
    last = TID[-1]
    other = next(c for c in "23456789ABCDEFGHJKLMNPQRSTUVWXYZ" if c != last)
    result = parse(f"CEK {TID[:-1]}{other}")
    assert isinstance(result, Invalid) and "check character" in result.reason


@pytest.mark.parametrize(
    ("message", "text"),
    [
        (f"BALAS {TID} sudah diperbaiki, terima kasih", "sudah diperbaiki, terima kasih"),
        (f"balas {TID.lower()}  belum ada perbaikan ", "belum ada perbaikan"),
        (f"BALAS {grouped(TID)} baris satu\nbaris dua", "baris satu\nbaris dua"),
        (f"BALAS {TID} KUPANG jalan", "KUPANG jalan"),
    ],
)
def test_reply(message: str, text: str) -> None:
    assert parse(message) == Reply(TID, text)


@pytest.mark.parametrize(
    ("message", "code", "choice"),
    [
        ("POLL TAMAN-KOTA 2", "TAMAN-KOTA", "2"),
        ("poll taman setuju", "TAMAN", "setuju"),
        ("POLL  RTH2025   sangat   setuju ", "RTH2025", "sangat setuju"),
    ],
)
def test_poll_answer(message: str, code: str, choice: str) -> None:
    assert parse(message) == PollAnswer(code, choice)


@pytest.mark.parametrize(
    "message", [f"ESKALASI {TID}", f"eskalasi {TID.lower()}", f"Eskalasi {grouped(TID)}"]
)
def test_escalation(message: str) -> None:
    assert parse(message) == Escalate(TID)


def test_commands_only_as_the_first_whole_word() -> None:
    assert parse("CEKLIS KUPANG") == NewReport("CEKLIS KUPANG")
    assert parse("KUPANG cek jalan") == NewReport(
        "cek jalan", "5371", "PEMKOT-KUPANG", "KUPANG", ("KAB KUPANG",)
    )


def test_command_words_are_reserved_in_the_directory() -> None:
    assert COMMANDS == RESERVED_KEYWORDS


def test_results_are_tagged() -> None:
    kinds = {
        type(r).__name__: r.kind
        for r in (
            NewReport("x"),
            StatusQuery(TID),
            Reply(TID, "x"),
            PollAnswer("A", "1"),
            Escalate(TID),
            Invalid("empty", "x"),
        )
    }
    assert kinds == {
        "NewReport": "new_report",
        "StatusQuery": "status_query",
        "Reply": "reply",
        "PollAnswer": "poll_answer",
        "Escalate": "escalate",
        "Invalid": "invalid",
    }
    assert dataclasses.asdict(StatusQuery(TID)) == {"tracking_id": TID, "kind": "status_query"}


# --- properties ------------------------------------------------------------------------------

keywords = st.sampled_from([*default_directory().keywords(), "CEK", "BALAS", "POLL", TID])
separators = st.sampled_from([" ", "  ", "\n", "\t", ":", "", "\u200b", "\u00a0"])
messy = st.lists(st.one_of(keywords, separators, st.text(max_size=12)), max_size=8).map("".join)
any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=300)


@given(message=st.one_of(any_text, messy))
@example(message="\ud800")
@example(message="CEK \udfff")
@example(message="BALAS " + "\x00" * 10 + " x")
def test_parser_never_raises(message: str) -> None:
    result = parse(message)
    assert isinstance(result, NewReport | StatusQuery | Reply | PollAnswer | Invalid)
    if isinstance(result, NewReport):
        assert result.text and result.text == result.text.strip()
        assert (result.keyword is None) == (result.agency_hint is None)
    if isinstance(result, Reply):
        assert result.text.strip()
    if isinstance(result, Invalid):
        assert result.reason


@given(
    keyword=st.sampled_from(default_directory().keywords()),
    gaps=st.lists(st.sampled_from([" ", "  ", "\t", " \n "]), min_size=4, max_size=4),
    text=st.text(min_size=1, max_size=50).filter(lambda t: t.strip()),
)
def test_every_keyword_is_found_in_any_case_and_spacing(
    keyword: str, gaps: list[str], text: str
) -> None:
    words = keyword.split(" ")
    spaced = "".join(w + gaps[i % len(gaps)] for i, w in enumerate(words))
    message = spaced.lower() + "laporan " + text
    result = parse(message)
    assert isinstance(result, NewReport)
    assert result.keyword == keyword
    assert result.region_code == default_directory().region_for_keyword(keyword)


# --- GSM-7 -----------------------------------------------------------------------------------


def test_gsm7_tables() -> None:
    assert len(GSM7_BASIC) == 128
    assert len(set(GSM7_BASIC)) == 128
    assert len(GSM7_EXTENSION) == 10  # form feed and nine printable characters
    assert "€" in GSM7_EXTENSION


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Laporan diterima. ID 7K3M9QX2PA", True),
        ("Ç é è ù ì ò Ä Ö Ñ Ü ä ö ñ ü à ß Δ Ω @ £ $ ¥ § ¿ ¡", True),
        ("[]{}^~\\|€", True),
        ("“quoted”", False),
        ("á", False),
        ("ç", False),
        ("–", False),
        ("😀", False),
        ("\x1b", False),
        ("", True),
    ],
)
def test_is_gsm7(text: str, expected: bool) -> None:
    assert is_gsm7(text) is expected
    assert sms_encoding(text) == ("gsm7" if expected else "ucs2")


def test_septet_length() -> None:
    assert septet_length("abc") == 3
    assert septet_length("€[") == 4
    assert septet_length("a\nb") == 3
    with pytest.raises(ValueError, match="not a GSM-7"):
        septet_length("😀")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("‘kutipan’ “kutip”", "'kutipan' \"kutip\""),
        ("jalan–rusak — parah", "jalan-rusak - parah"),
        ("tunggu…", "tunggu..."),
        ("Dinas Kesehatan\u00a0Kota", "Dinas Kesehatan Kota"),
        ("café", "café"),  # é is GSM-7
        ("Ángel çà õ", "Angel cà o"),
        ("ﬁle ½ Ｋupang", "file 1/2 Kupang"),
        ("a\u200bb\ufeffc", "abc"),
        ("tab\there", "tab here"),
        ("terima kasih 🙏", "terima kasih ?"),
        ("中文", "??"),
        ("€ 5", "€ 5"),
        ("œuvre ł", "oeuvre l"),
    ],
)
def test_to_gsm7(text: str, expected: str) -> None:
    assert to_gsm7(text) == expected


def test_to_gsm7_replacement() -> None:
    assert to_gsm7("x😀", replacement="") == "x"
    with pytest.raises(ValueError, match="replacement"):
        to_gsm7("x", replacement="😀")


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),
        ("€" * 81, 2),
        ("a" * 159 + "€", 2),
        # a part never splits an escape pair: 152 + [2] does not fit in 153
        ("a" * 152 + "[" + "a" * 152, 3),
        ("中" * 70, 1),
        ("中" * 71, 2),
        ("中" * 134, 2),
        ("中" * 135, 3),
        ("😀" * 35, 1),  # 70 UTF-16 units
        ("😀" * 36, 2),
        ("a" * 159 + "á", 3),  # one non-GSM character makes the whole text UCS-2
    ],
)
def test_sms_segments(text: str, segments: int) -> None:
    assert sms_segments(text) == segments


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pendek", "pendek"),
        ("a" * 160, "a" * 160),
        ("a" * 161, "a" * 157 + "..."),
        ("€" * 100, "€" * 78 + "..."),
        ("“Laporan” – diterima", '"Laporan" - diterima'),
    ],
)
def test_fit_one_sms(text: str, expected: str) -> None:
    assert fit_one_sms(text) == expected


def test_fit_one_sms_cuts_at_a_word_when_it_can() -> None:
    text = " ".join(["kata"] * 60)
    fitted = fit_one_sms(text)
    assert fitted.endswith("kata...")
    assert septet_length(fitted) <= 160


def test_fit_one_sms_with_a_smaller_limit() -> None:
    assert fit_one_sms("abcdefgh", limit=5) == "ab..."
    assert fit_one_sms("abcdefgh", limit=3) == "abc"
    assert fit_one_sms("€€", limit=3) == "€"
    with pytest.raises(ValueError, match="limit"):
        fit_one_sms("x", limit=0)


def test_help_text_fits_one_sms() -> None:
    assert is_gsm7(HELP_TEXT)
    assert septet_length(HELP_TEXT) <= 160


@given(any_text)
@example("€" * 200)
@example("a" * 157 + "€" * 5)
@example("😀" * 200)
def test_gsm7_helpers_always_fit(text: str) -> None:
    converted = to_gsm7(text)
    assert is_gsm7(converted)
    fitted = fit_one_sms(text)
    assert is_gsm7(fitted)
    assert septet_length(fitted) <= 160
    assert sms_segments(fitted) == 1
    if septet_length(converted) <= 160:
        assert fitted == converted
    else:
        assert fitted.endswith("...")


@given(any_text, st.integers(min_value=1, max_value=400))
def test_fit_one_sms_respects_any_limit(text: str, limit: int) -> None:
    assert septet_length(fit_one_sms(text, limit=limit)) <= limit


@given(any_text)
def test_segments_are_at_least_the_minimum(text: str) -> None:
    segments = sms_segments(text)
    if is_gsm7(text):
        septets = septet_length(text)
        assert segments == 1 if septets <= 160 else segments >= -(-septets // 153)
    else:
        units = len(text.encode("utf-16-le", "surrogatepass")) // 2
        assert segments == 1 if units <= 70 else segments >= -(-units // 67)
