"""Probe a running Aftercare for the sign-in and page protections of issue 10 (items 9 to 12).

    .venv/bin/python bench/security_probe.py --url http://127.0.0.1:5000 \
        --email demo@example.com --password '...'

Prints one line per check: PASS, FAIL or SKIP, with what was seen; exits 1 if any check failed.
Without --email/--password only the checks that need no account run (headers, and that no `next`
address makes the sign-in page fail).

The checks:
- headers: Content-Security-Policy without inline script or style, frame denial, nosniff,
  referrer policy, HSTS (over https), `Cache-Control: no-store` on the signed-in findings page.
- redirect: signing in with a hostile `next` (tab, newline, backslash, //host, scheme...) never
  leads to another site, read the way a browser reads a Location header; none gives a 5xx.
- session: cookie flags; a copy of the session and remember-me cookies taken before signing out
  no longer signs anyone in after it.
- timing: median time to refuse a wrong password for the known address and for unknown ones.
  Each run adds 2 x --samples failed sign-ins from this machine's address (the server allows
  20 in 15 minutes per address: run it at most three times in 15 minutes with the default).
  A correct sign-in at the end starts the account's count afresh.

Only ever point it at a server of your own (it signs in and out, and makes failed attempts).
"""

from __future__ import annotations

import argparse
import re
import secrets
import statistics
import sys
from urllib.parse import urljoin, urlsplit

import requests

HOSTILE_NEXT = [
    "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "//evil.example", "/\\evil.example",
    "\\\\evil.example", " //evil.example", "https://evil.example/", "http:evil.example", "javascript:alert(1)",
    "/%09/evil.example", "/\x00/evil.example",
]
TIMEOUT = 15


class Probe:
    def __init__(self, url: str, email: str | None, password: str | None) -> None:
        self.url = url.rstrip("/")
        self.email, self.password = email, password
        self.failed = 0

    def report(self, status: str, name: str, detail: str) -> None:
        self.failed += status == "FAIL"
        print(f"{status:4}  {name}: {detail}")

    def check(self, ok: bool, name: str, detail: str) -> None:
        self.report("PASS" if ok else "FAIL", name, detail)

    # -- helpers -----------------------------------------------------------------------------

    def login_page(self, session: requests.Session, next_path: str | None = None) -> requests.Response:
        params = {"next": next_path} if next_path is not None else None
        return session.get(f"{self.url}/login", params=params, timeout=TIMEOUT, allow_redirects=False)

    def sign_in(self, session: requests.Session, email: str, password: str, *, next_path: str | None = None,
                remember: bool = False) -> requests.Response:
        page = self.login_page(session, next_path)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
        data = {"email": email, "password": password, "csrf_token": token.group(1) if token else ""}
        if remember:
            data["remember"] = "y"
        params = {"next": next_path} if next_path is not None else None
        return session.post(f"{self.url}/login", params=params, data=data, timeout=TIMEOUT, allow_redirects=False)

    def sign_out(self, session: requests.Session) -> None:
        page = session.get(f"{self.url}/", timeout=TIMEOUT, allow_redirects=False)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        session.post(f"{self.url}/logout", data={"csrf_token": token.group(1) if token else ""}, timeout=TIMEOUT,
                     allow_redirects=False)

    def lands_on(self, location: str) -> str:
        """Where a browser goes for this Location: it trims control characters and spaces, drops
        tabs and newlines, and reads backslashes as slashes (the WHATWG URL standard)."""
        cleaned = re.sub(r"[\t\n\r]", "", location.strip("".join(map(chr, range(0x21))))).replace("\\", "/")
        return urljoin(f"{self.url}/login", cleaned)

    def same_site(self, url: str) -> bool:
        ours, theirs = urlsplit(self.url), urlsplit(url)
        return (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc)

    # -- checks ------------------------------------------------------------------------------

    def headers(self) -> None:
        response = requests.get(f"{self.url}/login", timeout=TIMEOUT)
        policy = {part.split()[0]: part.split()[1:] for part in
                  response.headers.get("Content-Security-Policy", "").split(";") if part.strip()}
        inline = [d for d in ("default-src", "script-src", "style-src") if "'unsafe-inline'" in policy.get(d, [])]
        self.check(bool(policy) and not inline and "default-src" in policy, "headers: Content-Security-Policy",
                   response.headers.get("Content-Security-Policy", "(none)"))
        framing = response.headers.get("X-Frame-Options", "")
        self.check(framing.upper() == "DENY" and policy.get("frame-ancestors") == ["'none'"],
                   "headers: no framing", f"X-Frame-Options {framing or '(none)'}, "
                   f"frame-ancestors {' '.join(policy.get('frame-ancestors', ['(none)']))}")
        self.check(response.headers.get("X-Content-Type-Options") == "nosniff", "headers: nosniff",
                   response.headers.get("X-Content-Type-Options", "(none)"))
        self.check("Referrer-Policy" in response.headers, "headers: Referrer-Policy",
                   response.headers.get("Referrer-Policy", "(none)"))
        if self.url.startswith("https://"):
            self.check("Strict-Transport-Security" in response.headers, "headers: HSTS",
                       response.headers.get("Strict-Transport-Security", "(none)"))
        else:
            self.report("SKIP", "headers: HSTS", "only sent over https; give an https:// --url")

    def next_never_fails(self) -> None:
        statuses = {target: self.login_page(requests.Session(), target).status_code for target in HOSTILE_NEXT}
        broken = {t: s for t, s in statuses.items() if s >= 500}
        self.check(not broken, "redirect: the sign-in page answers every next address",
                   f"{len(statuses)} addresses, 5xx for {sorted(map(repr, broken)) or 'none'}")

    def redirects(self) -> None:
        elsewhere, errors = [], []
        for target in HOSTILE_NEXT:
            session = requests.Session()
            response = self.sign_in(session, self.email, self.password, next_path=target)
            if response.status_code >= 500:
                errors.append(repr(target))
            elif response.status_code in (301, 302, 303, 307, 308):
                landing = self.lands_on(response.headers["Location"])
                if not self.same_site(landing):
                    elsewhere.append(f"{target!r} -> {landing}")
                self.sign_out(session)
            else:
                errors.append(f"{target!r}: {response.status_code} (signed in? rate-limited?)")
        self.check(not elsewhere and not errors, "redirect: signing in never leads to another site",
                   f"{len(HOSTILE_NEXT)} hostile next addresses; elsewhere: {elsewhere or 'none'}; "
                   f"errors: {errors or 'none'}")

    def session(self) -> None:
        browser = requests.Session()
        response = self.sign_in(browser, self.email, self.password, remember=True)
        if response.status_code != 302:
            self.report("FAIL", "session", f"could not sign in ({response.status_code})")
            return
        cookies = {c.name: c for c in browser.cookies}
        https = self.url.startswith("https://")
        for name, cookie in cookies.items():
            rest = {k.lower(): v for k, v in cookie._rest.items()}
            flags = (("httponly" in rest), rest.get("samesite", "").lower(), cookie.secure)
            self.check(flags[0] and flags[1] in ("lax", "strict") and (cookie.secure or not https),
                       f"session: cookie {name} flags", f"HttpOnly={flags[0]} SameSite={flags[1] or '(none)'} "
                       f"Secure={flags[2]}")
        findings = browser.get(f"{self.url}/", timeout=TIMEOUT, allow_redirects=False)
        self.check(findings.headers.get("Cache-Control") == "no-store", "headers: no-store on the findings page",
                   findings.headers.get("Cache-Control", "(none)"))
        copy = requests.Session()
        for cookie in browser.cookies:
            if "device" not in cookie.name:
                copy.cookies.set_cookie(cookie)
        before = copy.get(f"{self.url}/", timeout=TIMEOUT, allow_redirects=False).status_code
        self.sign_out(browser)
        after = copy.get(f"{self.url}/", timeout=TIMEOUT, allow_redirects=False)
        self.check(before == 200 and after.status_code == 302 and "/login" in after.headers.get("Location", ""),
                   "session: copied cookies stop working at sign-out",
                   f"copy before sign-out: {before}; after: {after.status_code} {after.headers.get('Location', '')}")

    def timing(self, samples: int) -> None:
        stranger = requests.Session()
        known, unknown, statuses = [], [], set()
        for _ in range(samples):
            for email, times in ((self.email, known), (f"nobody-{secrets.token_hex(4)}@example.org", unknown)):
                response = self.sign_in(stranger, email, "wrong password " + secrets.token_hex(4))
                times.append(response.elapsed.total_seconds())  # the POST alone, to its answer's headers
                statuses.add(response.status_code)
        if 429 in statuses:
            self.report("SKIP", "timing", "rate-limited: this address made too many failed sign-ins lately; "
                                          "wait 15 minutes")
        else:
            k, u = statistics.median(known) * 1000, statistics.median(unknown) * 1000
            self.check(0.5 <= k / u <= 2, "timing: wrong password, known vs unknown address",
                       f"median {k:.0f} ms vs {u:.0f} ms (ratio {k / u:.2f}, {samples} each; 0.5-2 passes)")
        self.sign_in(requests.Session(), self.email, self.password)  # a correct sign-in ends the count

    def run(self, samples: int) -> int:
        self.headers()
        self.next_never_fails()
        if self.email and self.password:
            self.redirects()
            self.session()
            self.timing(samples)
        else:
            for name in ("redirect: signing in never leads to another site", "session", "timing"):
                self.report("SKIP", name, "needs --email and --password of an account on this server")
        return 1 if self.failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:5000")
    parser.add_argument("--email")
    parser.add_argument("--password")
    parser.add_argument("--samples", type=int, default=3, help="wrong passwords per address kind (default 3)")
    args = parser.parse_args()
    return Probe(args.url, args.email, args.password).run(args.samples)


if __name__ == "__main__":
    sys.exit(main())
