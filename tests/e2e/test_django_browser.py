"""examples/django in a real browser (headless Chromium driven by Selenium) through the emulator.

Needs Debian's `chromium` and `chromium-driver` (/usr/bin/chromium, /usr/bin/chromedriver);
Selenium is pointed at both, so Selenium Manager never downloads anything.
"""

from pathlib import Path

import pytest

from test_django_example import ADMIN_PASSWORD, ADMIN_USER, start_django

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT = 30

# Selenium is in requirements-dev.txt (.venv) and Chromium is installed by `make test-python`:
# a missing one is an error, never a skip.
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def django_app(start_emulator, tmp_path_factory):
    return start_django(start_emulator, tmp_path_factory.mktemp("django-browser"))


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        pytest.fail(f"{' and '.join(missing)} missing: `make /usr/bin/chromedriver` (apt-get install chromium chromium-driver)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}",
    ]:
        options.add_argument(arg)
    service = Service(str(CHROMEDRIVER), log_output=str(profile.parent / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(WAIT)
    yield driver
    driver.quit()


@pytest.fixture
def fresh_browser(browser):
    """No cookies from an earlier test (the session and CSRF cookies are per test)."""
    browser.delete_all_cookies()
    return browser


def url(emulator, path):
    return f"http://127.0.0.1:{emulator.front_port}{path}"


def stylesheet_status(driver, path):
    """(response status, CSS rule count) of the page's stylesheet whose URL ends with `path`,
    once the browser has loaded it (the resource entry can lag the page's load event)."""
    script = """
        const path = arguments[0];
        const sheet = [...document.styleSheets].find(s => s.href && new URL(s.href).pathname === path);
        const entry = performance.getEntriesByType("resource").find(e => new URL(e.name).pathname === path);
        return entry && sheet ? [entry.responseStatus, sheet.cssRules.length] : null;
    """
    try:
        return WebDriverWait(driver, WAIT).until(lambda d: d.execute_script(script, path))
    except TimeoutException:
        return [None, None]


def test_admin_login_with_its_css(django_app, fresh_browser):
    driver = fresh_browser
    driver.get(url(django_app, "/admin/login/"))
    assert "Log in" in driver.title, driver.page_source
    # The admin's own CSS, served by WhiteNoise through the emulator, loaded and parsed.
    status, rules = stylesheet_status(driver, "/static/admin/css/base.css")
    assert status == 200 and rules > 0, (status, rules, django_app.logs())

    driver.find_element(By.ID, "id_username").send_keys(ADMIN_USER)
    driver.find_element(By.ID, "id_password").send_keys(ADMIN_PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(driver, WAIT).until(EC.url_to_be(url(django_app, "/admin/")))
    assert driver.find_element(By.CSS_SELECTOR, "#content h1").text == "Site administration", driver.page_source
    # The notes app is in the admin, and the logged-in user is named.
    assert driver.find_element(By.CSS_SELECTOR, "a[href='/admin/notes/note/']").text == "Notes"
    assert ADMIN_USER in driver.find_element(By.ID, "user-tools").text.lower()
    # The stylesheet applies: base.css gives the header a background colour.
    header_bg = driver.execute_script("return getComputedStyle(document.getElementById('header')).backgroundColor")
    assert header_bg not in ("", "rgba(0, 0, 0, 0)", "transparent"), header_bg


def test_wrong_password_stays_on_the_login_page(django_app, fresh_browser):
    driver = fresh_browser
    driver.get(url(django_app, "/admin/login/"))
    driver.find_element(By.ID, "id_username").send_keys(ADMIN_USER)
    driver.find_element(By.ID, "id_password").send_keys("not-the-password")
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    error = WebDriverWait(driver, WAIT).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".errornote")))
    assert "correct username and password" in error.text
    assert driver.current_url.startswith(url(django_app, "/admin/login/"))


def test_add_a_note_and_count_visits(django_app, fresh_browser):
    driver = fresh_browser
    driver.get(url(django_app, "/"))
    assert stylesheet_status(driver, "/static/notes/site.css")[0] == 200, django_app.logs()
    field = driver.find_element(By.ID, "id_text")
    field.send_keys("typed in chromium")
    field.submit()
    # The POST answers 303 to /; the browser follows it and the note is in the list.
    WebDriverWait(driver, WAIT).until(
        EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#notes .text"), "typed in chromium")
    )
    assert driver.current_url == url(django_app, "/")

    counts = []
    for _ in range(3):
        driver.get(url(django_app, "/visits/"))
        counts.append(int(driver.find_element(By.ID, "visits").text))
    assert counts == [1, 2, 3]


@pytest.fixture(scope="module")
def django_pg_app(postgres, start_emulator, tmp_path_factory):
    """The example on PostgreSQL (test_django_postgres.py), migrated through the manage event."""
    from test_django_postgres import start_django_on_postgresql

    app, _ = start_django_on_postgresql(postgres, start_emulator, tmp_path_factory.mktemp("django-pg-browser"),
                                        "notes_browser")
    return app


def test_admin_login_and_add_a_note_on_postgresql(django_pg_app, postgres, fresh_browser):
    driver = fresh_browser
    driver.get(url(django_pg_app, "/admin/login/"))
    driver.find_element(By.ID, "id_username").send_keys(ADMIN_USER)
    driver.find_element(By.ID, "id_password").send_keys(ADMIN_PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(driver, WAIT).until(EC.url_to_be(url(django_pg_app, "/admin/")))
    assert driver.find_element(By.CSS_SELECTOR, "#content h1").text == "Site administration", driver.page_source

    # The admin's add form writes to PostgreSQL.
    driver.get(url(django_pg_app, "/admin/notes/note/add/"))
    driver.find_element(By.ID, "id_text").send_keys("added in the admin")
    driver.find_element(By.CSS_SELECTOR, "input[name=_save]").click()
    WebDriverWait(driver, WAIT).until(EC.url_to_be(url(django_pg_app, "/admin/notes/note/")))
    assert "added in the admin" in driver.find_element(By.ID, "result_list").text, driver.page_source
    assert postgres.query("notes_browser", "SELECT text FROM notes_note") == [["added in the admin"]]
    # The login itself is in PostgreSQL too (django.contrib.auth records it).
    assert postgres.query("notes_browser", "SELECT last_login IS NOT NULL FROM auth_user") == [["t"]]
