"""The console in a real headless Chromium (Playwright driving Debian's
/usr/bin/chromium), run by tests/api/console.rs against a real Herald.

Environment: HERALD_BASE (http://127.0.0.1:PORT), HERALD_KEY (a tenant API
key whose integrations are simulators), HERALD_CHROMIUM, HERALD_SCREENSHOTS
(where the page screenshots go). Prints one JSON line with what it made, for
the Rust side to check through the API; any failed check raises.
"""

import http.client
import json
import os
import re
import sys
import time
import urllib.parse
import urllib.request

from playwright.sync_api import expect, sync_playwright

BASE = os.environ["HERALD_BASE"]
KEY = os.environ["HERALD_KEY"]
CHROMIUM = os.environ.get("HERALD_CHROMIUM", "/usr/bin/chromium")
SHOTS = os.environ["HERALD_SCREENSHOTS"]
SECRET = "whsec-console-test-9f3b2c71e4"
TYPE_KEY = "appointment_reminder"

expect.set_options(timeout=15_000)


def api(method, path, body=None):
    """One call to Herald's API with the tenant key."""
    req = urllib.request.Request(
        BASE + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + KEY, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=15) as resp:
        return resp.status, json.loads(resp.read() or b"null")


def status_with_cookie(path, cookie):
    """The status and Location of a GET with only this session cookie."""
    u = urllib.parse.urlparse(BASE)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("GET", path, headers={"Cookie": "herald_session=" + cookie})
    resp = conn.getresponse()
    resp.read()
    return resp.status, resp.getheader("Location")


def shot(page, name, full=True):
    page.screenshot(path=os.path.join(SHOTS, name + ".png"), full_page=full)


def main():
    sources = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        ctx = browser.new_context(viewport={"width": 1280, "height": 860})
        page = ctx.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        # Signed out, every page leads to the sign-in form.
        page.goto(BASE + "/types")
        expect(page).to_have_url(re.compile(r"/login$"))
        shot(page, "login")

        # A wrong key is refused, the right one signs in.
        page.get_by_label("API key").fill("hk_not_a_key")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("not one Herald knows")
        page.get_by_label("API key").fill(KEY)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        cookie = next(c for c in ctx.cookies() if c["name"] == "herald_session")
        assert cookie["httpOnly"], cookie
        assert cookie["sameSite"] == "Strict", cookie

        # The help article's example type, through the form.
        page.get_by_role("link", name="Notification types", exact=True).click()
        page.get_by_label("Key").fill(TYPE_KEY)
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("heading", name="New type: " + TYPE_KEY)).to_be_visible()
        # Each select offers only what its channel allows.
        assert page.get_by_label("E-mail scenario").locator("option").all_inner_texts() == [
            "Do not send",
            "Always send",
        ]
        assert page.get_by_label("SMS scenario").locator("option").all_inner_texts() == [
            "Do not send",
            "Always send",
            "Send if delivery failed to previous channel",
        ]
        page.get_by_label("E-mail scenario").select_option(label="Always send")
        page.get_by_label("Aunio app scenario").select_option(label="Always send")
        page.get_by_label("Branded app scenario").select_option(
            label="Send if delivery failed to previous channel"
        )
        page.get_by_label("SMS scenario").select_option(
            label="Send if delivery failed to previous channel"
        )
        for summary in page.locator("details.tpl > summary").all():
            summary.evaluate("s => s.parentElement.open = true")
        page.get_by_label("E-mail subject (en)").fill("Your appointment at {{ time }}")
        page.get_by_label("E-mail body (en)").fill("Hello {{ client_name }}, see you at {{ time }}.")
        page.get_by_label("Aunio app title (en)").fill("Appointment at {{ time }}")
        page.get_by_label("Aunio app body (en)").fill("Hello {{ client_name }}, see you at {{ time }}.")
        page.get_by_label("Branded app title (en)").fill("Salon One: {{ time }}")
        page.get_by_label("Branded app body (en)").fill("{{ client_name }}, see you at {{ time }}.")
        page.get_by_label("SMS body (en)").fill("{{ client_name }}: appointment at {{ time }}")
        page.get_by_role("button", name="Save type").click()
        expect(page.get_by_role("status")).to_have_text("Saved.")
        _, stored = api("GET", "/v1/notification-types/" + TYPE_KEY)
        assert [(c["channel"], c["scenario"]) for c in stored["channels"]] == [
            ("email", "always"),
            ("aunio", "always"),
            ("branded_app", "fallback"),
            ("sms", "fallback"),
        ], stored
        shot(page, "type")

        # A broken rule: nothing enabled before a fallback channel. The
        # service's message shows next to the field, and nothing is saved.
        page.get_by_label("E-mail scenario").select_option(label="Do not send")
        page.get_by_label("Aunio app scenario").select_option(label="Do not send")
        page.get_by_role("button", name="Save type").click()
        branded = page.get_by_label("Branded app scenario")
        expect(branded).to_have_attribute("aria-invalid", "true")
        described = branded.get_attribute("aria-describedby")
        field_error = page.locator("#" + described)
        expect(field_error).to_contain_text("nothing to fall back from")
        row = page.locator('li.channel-row[data-channel="branded_app"]')
        expect(row.locator(".field-error")).to_contain_text("nothing to fall back from")
        _, after = api("GET", "/v1/notification-types/" + TYPE_KEY)
        assert after["channels"] == stored["channels"], after
        shot(page, "type-rule-broken")

        # A client with a phone only, through the form.
        page.get_by_role("link", name="Clients", exact=True).click()
        page.get_by_label("Id", exact=True).fill("ana")
        page.get_by_label("Name", exact=True).fill("Ana")
        page.get_by_label("Phone (E.164)").fill("+15550001111")
        page.get_by_role("button", name="Add").click()
        expect(page.get_by_role("heading", name="Client ana")).to_be_visible()
        _, ana = api("GET", "/v1/clients/ana")
        assert ana.get("phone") == "+15550001111" and not ana.get("email"), ana
        # A bad e-mail shows the API's message next to the field.
        page.get_by_label("E-mail", exact=True).fill("not-an-address")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_label("E-mail", exact=True)).to_have_attribute("aria-invalid", "true")
        expect(page.locator(".field-error").first).to_be_visible()
        page.get_by_role("link", name="Clients", exact=True).click()
        page.get_by_label(re.compile("^Search clients")).fill("555000")
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_role("link", name="ana", exact=True)).to_be_visible()
        shot(page, "clients")
        page.get_by_role("link", name="ana", exact=True).click()
        shot(page, "client")

        # The live preview of the saved type for Ana.
        page.goto(BASE + "/types/" + TYPE_KEY)
        page.get_by_label("Client id").fill("ana")
        page.get_by_label("Data (JSON)").fill('{"client_name": "Ana", "time": "10:00"}')
        expect(page.locator("#preview-result")).to_contain_text("Ana: appointment at 10:00")
        expect(page.locator("#preview-result")).to_contain_text("client has no e-mail address")
        # An unsaved edit of the SMS text shows in the preview at once, and
        # the saved type stays as it was until "Save type".
        for summary in page.locator("details.tpl > summary").all():
            summary.evaluate("s => s.parentElement.open = true")
        page.get_by_label("SMS body (en)").fill("{{ client_name }}: moved to {{ time }}")
        expect(page.locator("#preview-result")).to_contain_text("Ana: moved to 10:00")
        _, unsaved = api("GET", "/v1/notification-types/" + TYPE_KEY)
        assert "moved" not in json.dumps(unsaved), unsaved
        shot(page, "type-preview")
        page.goto(BASE + "/types/" + TYPE_KEY)

        # Trigger through the API, then watch the timeline.
        status, trig = api(
            "POST",
            "/v1/notifications",
            {"type": TYPE_KEY, "client": "ana", "data": {"client_name": "Ana", "time": "10:00"}},
        )
        assert status == 202, (status, trig)
        nid = trig["id"]
        page.get_by_role("link", name="Log", exact=True).click()
        page.locator("table.log a").first.click()
        expect(page.get_by_role("heading", name=TYPE_KEY + " to client ana")).to_be_visible()
        deadline = time.time() + 30
        while "Status delivered" not in page.locator("main p").first.inner_text():
            assert time.time() < deadline, page.content()
            time.sleep(0.3)
            page.reload()
        steps = page.locator("ol.timeline > li")
        expect(steps.nth(0)).to_contain_text("unreachable")
        expect(steps.nth(0)).to_contain_text("no e-mail address")
        expect(steps.nth(3)).to_contain_text("SMS")
        expect(steps.nth(3)).to_contain_text("delivered")
        expect(steps.nth(3)).to_contain_text("+15550001111 via sms")
        expect(steps.nth(3)).to_contain_text("receipt delivered")
        shot(page, "timeline")
        ctx_phone = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, storage_state=ctx.storage_state()
        )
        phone = ctx_phone.new_page()
        phone.goto(page.url)
        shot(phone, "timeline-phone")
        phone.goto(BASE + "/types/" + TYPE_KEY)
        shot(phone, "type-phone")
        ctx_phone.close()

        # A client with an e-mail address: the fallback SMS is not needed,
        # which the overview counts as an SMS the cascade avoided.
        api("PUT", "/v1/clients/bea", {"name": "Bea", "email": "bea@example.com", "phone": "+15550003333"})
        _, second = api(
            "POST",
            "/v1/notifications",
            {"type": TYPE_KEY, "client": "bea", "data": {"client_name": "Bea", "time": "12:00"}},
        )
        deadline = time.time() + 30
        while api("GET", "/v1/notifications/" + second["id"])[1]["status"] == "pending":
            assert time.time() < deadline, "the second notification did not finish"
            time.sleep(0.2)

        # The log's filters.
        page.goto(BASE + "/log")
        page.get_by_label("Channel").select_option("sms")
        page.get_by_label("Status").select_option("delivered")
        page.get_by_label("Recipient id").fill("ana")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("table.log tbody tr")).to_have_count(1)
        shot(page, "log")
        page.get_by_label("Channel").select_option("branded_app")
        page.get_by_role("button", name="Filter").click()
        expect(page.get_by_text("No notifications match.")).to_be_visible()

        # The dry run for a chosen person.
        page.get_by_role("link", name="Dry run", exact=True).click()
        page.get_by_label("Client or staff id").fill("ana")
        page.get_by_label("Data (JSON)").fill('{"client_name": "Ana", "time": "11:00"}')
        page.get_by_role("button", name="Dry run").click()
        expect(page.locator("ol.plan")).to_contain_text("Ana: appointment at 11:00")
        shot(page, "dry-run")

        # A secret entered on the integrations page never comes back.
        page.get_by_role("link", name="Integrations", exact=True).click()
        section = page.locator("section#admin_app")
        section.locator("summary").click()
        section.get_by_label("Admin app provider").select_option("webhook")
        section.get_by_label("Admin app settings (JSON, without secrets)").fill(
            '{"url": "http://127.0.0.1:9/hook"}'
        )
        section.get_by_label("webhook secret").fill(SECRET)
        section.get_by_role("button", name="Save Admin app integration").click()
        section = page.locator("section#admin_app")
        expect(section).to_contain_text("Provider webhook")
        expect(section.locator("label", has_text="webhook secret").locator(".tag")).to_have_text("set")
        # The test send answers on the page.
        sms = page.locator("section#sms")
        sms.get_by_label("Send a test SMS message to").fill("+15550002222")
        sms.get_by_role("button", name="Send test").click()
        expect(page.locator("section#sms [role=status]")).to_contain_text("accepted")
        page.locator("section#admin_app summary").click()
        shot(page, "integrations")

        page.goto(BASE + "/staff")
        shot(page, "staff")
        page.goto(BASE + "/")
        expect(page.locator("svg.chart").first).to_be_visible()
        today = page.locator("section", has=page.get_by_role("heading", name="Today", exact=True))
        expect(today.locator("dl.figures")).to_contain_text("SMS sent1")
        expect(today.locator("dl.figures")).to_contain_text("SMS the cascade avoided1")
        expect(today.locator("dl.figures")).to_contain_text("Delivered share100 %")
        shot(page, "overview")
        page.goto(BASE + "/types")
        shot(page, "types")

        for path in [
            "/",
            "/types",
            "/types/" + TYPE_KEY,
            "/integrations",
            "/clients",
            "/clients/ana",
            "/staff",
            "/log",
            "/log/" + nid,
            "/dry-run",
        ]:
            page.goto(BASE + path)
            sources[path] = page.content()
            raw = page.evaluate("p => fetch(p).then(r => r.text())", path)
            for text in (sources[path], raw):
                assert SECRET not in text, "the secret is in the page " + path
                assert KEY not in text, "the API key is in the page " + path

        # A form posted without the CSRF token is refused, and changes nothing.
        refused = page.evaluate(
            """async () => {
                const r = await fetch('/types/%s/delete', {method: 'POST',
                    headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: ''});
                return r.status;
            }"""
            % TYPE_KEY
        )
        assert refused == 403, refused
        status, _ = api("GET", "/v1/notification-types/" + TYPE_KEY)
        assert status == 200

        # After sign-out, the old session cookie is worthless.
        page.goto(BASE + "/")
        assert status_with_cookie("/", cookie["value"])[0] == 200
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/login$"))
        assert status_with_cookie("/", cookie["value"]) == (303, "/login")
        assert not errors, errors
        browser.close()
    print(json.dumps({"notification": nid, "pages": sorted(sources)}))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - the Rust side prints this
        print("console browser test failed: %r" % (e,), file=sys.stderr)
        raise
