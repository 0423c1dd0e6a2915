"""Voice needs on a 360 px phone: with JavaScript off the resident attaches a recording through
the file input; with JavaScript on the record button records (Chromium's fake microphone) into that
same input, and survives a refused submission. Either way the need is filed by voice alone and the
tracking page plays it back."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Need
from app.services import entry_tokens
from tests import audio
from tests.browser.conftest import PHONE, _context, screenshot
from tests.factories import make_need_world


def _fits(page) -> None:  # type: ignore[no-untyped-def]
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def _card_url(live_server) -> str:  # type: ignore[no-untyped-def]
    w = make_need_world()
    token = entry_tokens.current_token(w.household).token
    db.session.commit()
    return f"{live_server.url}/c/{token}"


def test_with_javascript_off_a_resident_attaches_a_recording_and_files_the_need(live_server, browser, tmp_path):
    url = _card_url(live_server)
    recording = audio.recording(tmp_path, "m4a-aac")
    context = _context(browser, PHONE, has_touch=True, is_mobile=True, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(url)
        voice = page.get_by_label("语音留言")
        assert voice.get_attribute("accept") == "audio/*" and voice.get_attribute("capture") is not None
        assert page.locator("[data-voice-recorder]").is_hidden()  # no button that cannot work
        _fits(page)
        screenshot(page, "voice-card-nojs-phone")
        page.get_by_text("设施维修").click()
        voice.set_input_files(str(recording))
        page.get_by_label("我同意为办理本诉求使用我的联系方式").check()
        page.get_by_role("button", name="提交").click()
        page.get_by_text("已提交，谢谢您！").wait_for()
        player = page.locator("#need-track audio")
        assert player.get_attribute("preload") == "none"
        src = player.get_attribute("src")
        _fits(page)
        screenshot(page, "voice-submitted-nojs-phone")
    finally:
        context.close()
    need = db.session.scalar(sa.select(Need))
    assert need.text == "" and need.voice_clip.mime == "audio/mp4"
    assert src == f"/t/{need.token}/voice/{need.voice_clip_id}"  # the checked route, no public URL


def test_with_javascript_on_the_record_button_records_into_the_form(live_server, browser):
    url = _card_url(live_server)
    context = _context(browser, PHONE, has_touch=True, is_mobile=True)
    context.grant_permissions(["microphone"])
    page = context.new_page()
    try:
        page.goto(url)
        page.get_by_role("button", name="录音").wait_for()
        button = page.locator("[data-voice-record]")
        assert page.locator(".voice-timer").inner_text() == "0:00 / 1:00"
        _fits(page)
        screenshot(page, "voice-card-js-phone")
        button.click()
        page.get_by_text("正在录音").wait_for()
        page.locator(".voice-timer", has_text="0:02 /").wait_for()
        assert button.get_attribute("aria-pressed") == "true"
        screenshot(page, "voice-card-recording-phone")
        page.get_by_role("button", name="停止").click()
        page.get_by_text("已录好").wait_for()
        assert page.evaluate("document.querySelector('input[name=voice]').files.length") == 1
        assert page.locator("[data-voice-preview]").is_visible()
        screenshot(page, "voice-card-recorded-phone")
        page.get_by_text("设施维修").click()
        # Forgot the consent box: the form comes back refused, and the recording is still there.
        page.get_by_role("button", name="提交").click()
        page.locator("#consent-error").wait_for()
        assert page.evaluate("document.activeElement.id") == "consent"  # focus on what to fix
        page.get_by_text("您的录音还在").wait_for()
        assert page.evaluate("document.querySelector('input[name=voice]').files.length") == 1
        assert page.locator("[data-voice-lost]").is_hidden()
        screenshot(page, "voice-card-refused-kept-phone")
        page.get_by_label("我同意为办理本诉求使用我的联系方式").check()
        page.get_by_role("button", name="提交").click()
        page.get_by_text("已提交，谢谢您！").wait_for()
        src = page.locator("#need-track audio").get_attribute("src")
        assert src.startswith("/t/") and "/voice/" in src
        served = page.request.get(live_server.url + src)
        assert served.status == 200 and served.headers["cache-control"] == "private, no-store"
        screenshot(page, "voice-submitted-js-phone")
    finally:
        context.close()
    need = db.session.scalar(sa.select(Need))
    clip = need.voice_clip
    # Chromium records WebM/Opus with no length in its header: the server read it from the blocks.
    assert clip.mime == "audio/webm" and 1500 <= clip.duration_ms <= 5000, clip.duration_ms
