"""What every door accepts: each bad input gets a message naming its field, and nothing else is kept.

One parametrised case per message (the flaskr way). The doors' own tests (tests/test_cli.py) check
that they answer with these messages and save nothing.
"""

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot import validation
from bot.validation import ValidationError

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 17, 20, 0, tzinfo=timezone.utc)  # 15:00 in New York


def refused(check, raw, **options) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        check(raw, **options)
    return caught.value


# Names -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, clean", [
    ("Maria Lopez", "Maria Lopez"),
    ("  Maria   Lopez \n", "Maria Lopez"),
    ("Seán O’Brien-Ní Dhuibhir", "Seán O’Brien-Ní Dhuibhir"),
    ("Дмитрий Иванов", "Дмитрий Иванов"),
    ("王芳", "王芳"),
    ("Mary J. Blige Jr.", "Mary J. Blige Jr."),
    ("Zoe\u0308", "Zoë"),  # combining diaeresis composed (NFC): one way to write each name
])
def test_a_persons_name_is_kept_as_written_with_spaces_tidied(raw, clean):
    assert validation.person_name(raw) == clean


@pytest.mark.parametrize("raw, message", [
    (None, "Enter a name."),
    ("", "Enter a name."),
    ("   \t ", "Enter a name."),
    ("Maria\x00Lopez", "Remove the control characters (line breaks, tabs or invisible characters)."),
    ("Maria\nLopez", "Remove the control characters (line breaks, tabs or invisible characters)."),
    ("Maria\u202eLopez", "Remove the control characters (line breaks, tabs or invisible characters)."),
    ("Maria\x1b[31m", "Remove the control characters (line breaks, tabs or invisible characters)."),
    ("M" * 121, "Use at most 120 characters (this one has 121)."),
    ("Maria" * 90 + ' Traceback (most recent call last): File "x.py"',
     "Use at most 120 characters (this one has 497)."),
    ("Lopez, Maria", "Write the first name first, without a comma (Maria Lopez, not Lopez, Maria)."),
    ("Maria <script>", "Use letters, spaces, hyphens, apostrophes and periods only."),
    ("Maria 🙂", "Use letters, spaces, hyphens, apostrophes and periods only."),
    ("Maria (knee)", "Use letters, spaces, hyphens, apostrophes and periods only."),
    ("-- .", "A name needs at least one letter."),
    (42, "Enter the name as text."),
])
def test_a_persons_name_is_refused_with_a_reason(raw, message):
    error = refused(validation.person_name, raw)
    assert (error.field, error.message) == ("name", message)


def test_the_field_a_message_names_can_be_chosen_by_the_door():
    assert refused(validation.person_name, "", field="provider_name").errors == {"provider_name": "Enter a name."}


@pytest.mark.parametrize("raw, message", [
    ("", "Enter a name."),
    ("Harbor\tPT", "Remove the control characters (line breaks, tabs or invisible characters)."),
    ("H" * 121, "Use at most 120 characters (this one has 121)."),
    ("& 360", "A name needs at least one letter."),
])
def test_a_clinic_name_is_refused_with_a_reason(raw, message):
    assert refused(validation.clinic_name, raw).errors == {"name": message}


def test_a_clinic_name_may_have_digits_and_ampersands():
    assert validation.clinic_name(" Harbor PT & Spine 360 ") == "Harbor PT & Spine 360"


# The clinic's SMS name: every text starts with it and must still fit one segment ----------------

def test_an_sms_name_of_twenty_gsm7_characters_is_accepted():
    assert validation.sms_name("Northwestern Spine P") == "Northwestern Spine P"
    assert validation.sms_name("Clínica Río") == "Clínica Río"  # texts fold it to "Clinica Rio"


@pytest.mark.parametrize("raw, message", [
    ("", "Enter the name texts are signed with."),
    ("Northwestern Spine PT", "Use at most 20 characters, so every text fits one SMS (this one takes 21)."),
    ("Harbor [PT] {Rehab}", "Use at most 20 characters, so every text fits one SMS (this one takes 23)."),
    ("Щукинская ЛФК Центр", "Use at most 20 characters, so every text fits one SMS (this one takes 24)."),
    ("🙂🙂", "Use letters or digits that a text message can carry."),
    ("Harbor\nPT", "Remove the control characters (line breaks, tabs or invisible characters)."),
])
def test_an_sms_name_that_would_not_fit_one_segment_is_refused(raw, message):
    assert refused(validation.sms_name, raw).errors == {"sms_name": message}


# Phone numbers -----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, e164", [
    ("(212) 555-0143", "+12125550143"),
    ("212.555.0143", "+12125550143"),
    ("+1 212 555 0143", "+12125550143"),
    ("+44 7400 123456", "+447400123456"),
    ("+52 55 1234 5678", "+525512345678"),
])
def test_a_mobile_number_comes_out_in_e164(raw, e164):
    assert validation.phone(raw, region="US") == e164


@pytest.mark.parametrize("raw, region, message", [
    (None, "US", "Enter a phone number."),
    ("  ", "US", "Enter a phone number."),
    ("212-555-CALL", "US", "Write the number in digits: letters are not read as digits."),
    ("212 555 0143 ext 4", "US", "Write the number in digits: letters are not read as digits."),
    ("call me", "US", "Write the number in digits: letters are not read as digits."),
    ("555-0143", "US", "This number is too short: include the area code."),
    ("212 555 0143 0143 0143", "US", "This number is too long."),
    ("+999 212 555 0143", "US", "No country has the calling code at the start of this number."),
    ("(555) 555-0143", "US", "No phone line has this number: check the area code and the digits."),
    ("212 555 0143", None, "Include the country code (+1 for the US and Canada)."),
    ("+1 800 555 0100", "US", "This number cannot take text messages (a landline, toll-free or premium-rate "
                              "number): enter a mobile number."),
    ("+44 20 7946 0000", "US", "This number cannot take text messages (a landline, toll-free or premium-rate "
                               "number): enter a mobile number."),
    ("212\x00555 0143", "US", "Remove the control characters (line breaks, tabs or invisible characters)."),
    ("#212*555", "US", "This is not a phone number."),
])
def test_a_phone_number_is_refused_with_a_reason_that_does_not_repeat_it(raw, region, message):
    error = refused(validation.phone, raw, region=region)
    assert (error.field, error.message) == ("phone", message)
    digits = "".join(ch for ch in raw or "" if ch.isdigit())
    assert not digits or digits not in "".join(ch for ch in str(error) if ch.isdigit())


def test_a_clinics_landline_is_a_phone_a_patient_can_call():
    assert validation.phone("+44 20 7946 0000", region="US", mobile=False) == "+442079460000"


@pytest.mark.parametrize("e164, region, shown", [
    ("+12125550143", "US", "(212) 555-0143"),
    ("+447400123456", "US", "+44 7400 123456"),
    ("+447400123456", "GB", "07400 123456"),
])
def test_a_number_is_shown_as_people_write_it_at_home_and_abroad(e164, region, shown):
    assert validation.phone_display(e164, region=region) == shown


# Email and password ------------------------------------------------------------------------------

def test_an_email_address_is_normalised_to_lower_case():
    assert validation.email("  Dana@Harbor.Example ") == "dana@harbor.example"


@pytest.mark.parametrize("raw, message", [
    ("", "Enter an email address."),
    ("dana reyes", "An email address must have an @-sign."),
    ("dana@harbor", "The part after the @-sign is not valid. It should have a period."),
    ("dana@@harbor.example", "The part after the @-sign contains invalid characters: '@'."),
    ("x" * 250 + "@harbor.example", "The email address is too long (11 characters too many)."),
])
def test_an_email_that_is_not_an_address_is_refused(raw, message):
    assert refused(validation.email, raw).errors == {"email": message}


@pytest.mark.parametrize("raw, message", [
    ("", "Enter a password."),
    ("short", "Use at least 10 characters."),
    ("x" * 257, "Use at most 256 characters."),
    (" " * 12, "Use at least 10 characters that are not spaces."),
])
def test_a_weak_password_is_refused(raw, message):
    assert refused(validation.password, raw).errors == {"password": message}


def test_a_password_is_kept_exactly_as_typed():
    assert validation.password(" correct horse battery ") == " correct horse battery "


# Time zone, language, regions, precautions -------------------------------------------------------

@pytest.mark.parametrize("raw, zone", [("America/Chicago", "America/Chicago"),
                                       (" america/new_york ", "America/New_York"), ("UTC", "UTC")])
def test_a_time_zone_is_an_iana_name(raw, zone):
    assert validation.time_zone(raw) == zone


@pytest.mark.parametrize("raw, message", [
    ("", "Enter a time zone, such as America/New_York."),
    ("Mars/Olympus", "'Mars/Olympus' is not an IANA time zone such as America/New_York."),
    ("EST5EDT/../../etc/passwd", "'EST5EDT/../../etc/passwd' is not an IANA time zone such as America/New_York."),
])
def test_an_unknown_time_zone_is_refused(raw, message):
    assert refused(validation.time_zone, raw).errors == {"timezone": message}


def test_a_language_is_one_the_texts_are_written_in():
    assert validation.language(" ES ") == "es"
    assert refused(validation.language, "fr").errors == {
        "language": "'fr' is not a language the texts are written in: choose en or es."}


def test_regions_are_the_protocols_named_once_each_in_order():
    assert validation.regions(["knee", "upper trapezius", "knee"]) == ["knee", "upper_trapezius"]
    assert validation.regions("neck, upper_back") == ["neck", "upper_back"]


@pytest.mark.parametrize("raw, message", [
    ([], "Choose at least one needled region."),
    ("", "Choose at least one needled region."),
    (["knee", "elbow"], "'elbow' is not a region: choose from arm, calf, chest, foot, forearm, gluteal, hand, head, "
                        "hip, jaw, knee, lower_back, neck, scalenes, shoulder, thigh, thoracic, upper_back, "
                        "upper_trapezius."),
    ([3], "Name each region as text."),
])
def test_regions_are_refused_with_a_reason(raw, message):
    assert refused(validation.regions, raw).errors == {"regions": message}


def test_precautions_may_be_none_and_come_out_sorted():
    assert validation.precautions(None) == []
    assert validation.precautions(["first_session", "anticoagulant", "anticoagulant"]) == ["anticoagulant",
                                                                                           "first_session"]
    assert refused(validation.precautions, ["aspirin"]).errors == {
        "precautions": "'aspirin' is not a precaution: choose from anticoagulant, diabetes, first_session, "
                       "immunosuppressed, lung_disease, pregnancy."}


# Times -------------------------------------------------------------------------------------------

def test_a_session_end_without_offset_is_read_on_the_given_clock():
    assert validation.session_end("2026-11-17T10:00", zone="America/New_York", now=NOW) == datetime(
        2026, 11, 17, 10, 0, tzinfo=NY)
    assert validation.session_end("2026-11-17 10:00", zone="America/Chicago", now=NOW) == datetime(
        2026, 11, 17, 16, 0, tzinfo=timezone.utc)
    assert validation.session_end("2026-11-17T10:00-08:00", zone="America/New_York", now=NOW) == datetime(
        2026, 11, 17, 18, 0, tzinfo=timezone.utc)


def test_a_session_end_may_be_as_old_as_the_protocols_last_checkin_and_no_older():
    last = timedelta(hours=168)  # C5, day 7 (PROTOCOL 3)
    assert validation.session_end(NOW - last, zone="UTC", now=NOW) == NOW - last
    assert validation.session_end(NOW, zone="UTC", now=NOW) == NOW
    assert refused(validation.session_end, NOW - last - timedelta(minutes=1), zone="UTC", now=NOW).errors == {
        "ended_at": "This is more than 7 days ago: the protocol's last check-in (day 7) has passed."}
    assert refused(validation.session_end, NOW + timedelta(minutes=1), zone="UTC", now=NOW).errors == {
        "ended_at": "This is in the future: enter when the session ended."}


@pytest.mark.parametrize("raw, message", [
    ("", "Enter when the session ended, such as 2026-11-21 15:30."),
    ("1900-01-01", "Add the time of day, such as 1900-01-01 15:30."),
    ("1900-01-01T10:00", "This is more than 7 days ago: the protocol's last check-in (day 7) has passed."),
    ("9999-12-31T10:00", "This is in the future: enter when the session ended."),
    ("yesterday", "Write a date and time such as 2026-11-21 15:30 (or 2026-11-21T15:30-05:00)."),
    ("2026-11-17T25:00", "Write a date and time such as 2026-11-21 15:30 (or 2026-11-21T15:30-05:00)."),
    ("2026-03-08T02:30", "02:30 on 2026-03-08 did not happen in America/New_York (the clocks went forward): "
                         "check the time."),
    ("2026-11-01T01:30", "01:30 on 2026-11-01 happened twice in America/New_York (the clocks went back): "
                         "add the UTC offset, such as 2026-11-01T01:30-04:00."),
])
def test_a_session_end_is_refused_with_a_reason(raw, message):
    now = datetime(2026, 11, 17, 20, 0, tzinfo=timezone.utc) if "11-01" not in raw else datetime(
        2026, 11, 2, tzinfo=timezone.utc)
    now = datetime(2026, 3, 9, tzinfo=timezone.utc) if "03-08" in raw else now
    assert refused(validation.session_end, raw, zone="America/New_York", now=now).errors == {"ended_at": message}


def test_a_naive_datetime_from_code_is_read_on_the_given_clock_too():
    assert validation.session_end(datetime(2026, 11, 17, 10, 0), zone="America/New_York", now=NOW) == datetime(
        2026, 11, 17, 10, 0, tzinfo=NY)


@pytest.mark.parametrize("raw, clean", [("21:00", time(21)), ("8:30", time(8, 30)), (time(7), time(7))])
def test_a_clock_time_is_hours_and_minutes(raw, clean):
    assert validation.clock_time(raw, field="quiet_start") == clean


@pytest.mark.parametrize("raw", ["", "9pm", "24:00", "21:60", "21"])
def test_a_clock_time_is_refused_unless_hh_mm(raw):
    assert refused(validation.clock_time, raw, field="quiet_start").errors == {
        "quiet_start": "Write a time of day as HH:MM, such as 21:00."}


def test_quiet_hours_span_midnight_for_at_most_twelve_hours():
    assert validation.quiet_hours("21:00", "08:00") == (time(21), time(8))
    assert validation.quiet_hours("20:00", "08:00") == (time(20), time(8))
    assert refused(validation.quiet_hours, "19:59", end="08:00").errors == {
        "quiet_end": "Quiet hours can last at most 12 hours, so check-ins still have the day to go out."}
    assert refused(validation.quiet_hours, "21:00", end="21:00").errors == {
        "quiet_end": "Quiet hours must end at a different time than they start."}
    assert refused(validation.quiet_hours, "9pm", end="8am").errors == {
        "quiet_start": "Write a time of day as HH:MM, such as 21:00.",
        "quiet_end": "Write a time of day as HH:MM, such as 21:00."}


def test_business_hours_close_after_they_open_on_named_weekdays():
    assert validation.business_hours("08:00", "17:00") == (time(8), time(17))
    assert refused(validation.business_hours, "17:00", close="08:00").errors == {
        "business_close": "The clinic must close after it opens, on the same day."}
    assert validation.business_days("54321") == "12345"
    assert validation.business_days([1, 2, 3]) == "123"
    for bad in ("", "8", "Mon-Fri"):
        assert refused(validation.business_days, bad).errors == {
            "business_days": "Give the days the clinic is open as ISO weekdays, 1 (Monday) to 7 (Sunday), "
                             "such as 12345."}


# Several fields at once --------------------------------------------------------------------------

def test_a_checker_reports_every_field_at_fault_at_once():
    check = validation.Checker()
    name = check(validation.person_name, "Maria Lopez")
    check(validation.phone, "212-555-CALL", region="US")
    check(validation.email, "not an address")
    assert name == "Maria Lopez"
    with pytest.raises(ValidationError) as caught:
        check.done()
    assert caught.value.errors == {"phone": "Write the number in digits: letters are not read as digits.",
                                   "email": "An email address must have an @-sign."}


def test_an_enrolment_is_cleaned_whole_or_refused_with_every_error():
    clean = validation.enrolment(
        {"name": " Maria  Lopez", "phone": "(212) 555-0143", "ended_at": "2026-11-17T10:00", "regions": ["knee"],
         "language": "es", "timezone": "America/Chicago"},
        clinic_zone="America/New_York", now=NOW, phone_region="US")
    assert (clean.name, clean.phone, clean.regions, clean.precautions, clean.language, clean.timezone) == (
        "Maria Lopez", "+12125550143", ["knee"], [], "es", "America/Chicago")
    assert clean.ended_at == datetime(2026, 11, 17, 16, 0, tzinfo=timezone.utc)  # read on the patient's clock
    with pytest.raises(ValidationError) as caught:
        validation.enrolment({"name": "", "phone": "212-555-CALL", "ended_at": "1900-01-01T10:00", "regions": [],
                              "precautions": ["aspirin"], "language": "fr", "timezone": "Mars/Olympus"},
                             clinic_zone="America/New_York", now=NOW, phone_region="US")
    assert sorted(caught.value.errors) == ["ended_at", "language", "name", "phone", "precautions", "regions",
                                           "timezone"]


def test_an_enrolment_defaults_to_english_on_the_clinics_clock():
    clean = validation.enrolment({"name": "Ana", "phone": "+12125550143", "ended_at": "2026-11-17T10:00",
                                  "regions": "knee"}, clinic_zone="America/New_York", now=NOW)
    assert (clean.language, clean.timezone, clean.ended_at) == ("en", None, datetime(2026, 11, 17, 10, tzinfo=NY))


# A number on file (issue 10, item 1): the rule is pure, given whose the number is.

MARIA_ON_FILE = validation.OnFile(12, "Maria Lopez", "es", ["anticoagulant"], "America/Chicago")


def again(**fields):
    raw = {"phone": "+12125550143", "ended_at": "2026-11-17T10:00", "regions": ["knee"], **fields}
    return validation.enrolment(raw, clinic_zone="America/New_York", now=NOW,
                                on_file=lambda number: MARIA_ON_FILE if number == "+12125550143" else None)


def test_a_number_on_file_is_refused_by_id_and_the_door_words_the_choice():
    with pytest.raises(validation.PatientOnFile) as caught:
        validation.enrolment({"name": "Mario Lopez", "phone": "+12125550143", "ended_at": "2026-11-17T10:00",
                              "regions": ["knee"]}, clinic_zone="America/New_York", now=NOW,
                             on_file=lambda number: MARIA_ON_FILE, choices={"new_session_for": "press {id}"})
    assert caught.value.patient_id == 12
    assert caught.value.errors == {"phone": "This number is on file for patient 12. To record a new session for "
                                            "them, press 12 (their name, language and precautions are kept)."}


def test_a_new_session_keeps_what_is_on_file_and_reads_the_time_on_the_patients_clock():
    clean = again(new_session_for="12")
    assert (clean.name, clean.language, clean.precautions, clean.new_session_for) == \
           ("Maria Lopez", "es", ["anticoagulant"], 12)
    assert clean.ended_at == datetime(2026, 11, 17, 10, 0, tzinfo=ZoneInfo("America/Chicago"))


@pytest.mark.parametrize("fields, expected", [
    ({"name": "Mario Lopez"}, {"name"}),
    ({"precautions": []}, {"precautions"}),
    ({"precautions": ["anticoagulant", "diabetes"]}, {"precautions"}),
    ({"new_session_for": "13"}, {"new_session_for"}),
    ({"new_session_for": "twelve"}, {"new_session_for"}),
])
def test_a_new_session_refuses_a_change_not_made_on_purpose(fields, expected):
    with pytest.raises(ValidationError) as caught:
        again(**{"new_session_for": 12, **fields})
    assert set(caught.value.errors) == expected


def test_a_form_that_always_sends_language_and_zone_changes_them_only_when_ticked():
    raw = {"phone": "+12125550143", "ended_at": "2026-11-17T10:00", "regions": ["knee"], "new_session_for": 12,
           "language": "en", "timezone": "America/New_York"}
    with pytest.raises(ValidationError) as caught:
        validation.enrolment(raw, clinic_zone="America/New_York", now=NOW, on_file=lambda n: MARIA_ON_FILE,
                             sent_on_purpose=False)
    assert set(caught.value.errors) == {"language", "timezone"}
    clean = validation.enrolment(dict(raw, change_language=True, change_timezone=True), clinic_zone="America/New_York",
                                 now=NOW, on_file=lambda n: MARIA_ON_FILE, sent_on_purpose=False)
    assert (clean.language, clean.timezone) == ("en", "America/New_York")


def test_a_change_on_purpose_is_recorded_and_is_only_for_a_new_session():
    clean = again(new_session_for=12, rename="Maria Ruiz", change_precautions=[], language="en")
    assert (clean.name, clean.precautions, clean.language) == ("Maria Ruiz", [], "en")
    with pytest.raises(ValidationError) as caught:
        again(phone="+12125550177", name="Ana Ruiz", rename="Ana R", change_precautions=["diabetes"])
    assert set(caught.value.errors) == {"rename", "change_precautions"}
