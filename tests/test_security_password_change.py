"""Staff and patients change their own password on the account page: the current one first, the
new one twice under the site's password rules. The session stays signed in, the old password stops
working, and the API tokens go with it. A wrong current password is a failed sign-in: a borrowed,
signed-in session cannot guess the password past the lockout."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from html.parser import HTMLParser

import pytest
import time_machine
from django.contrib.auth import authenticate
from django.http import HttpRequest
from knox.models import AuthToken

from clinic.security.services import token_issue
from tests.conftest import empty_own_cache_keys
from tests.factories import PASSWORD
from tests.web.conftest import login

MONDAY = dt.datetime(2026, 3, 2, 14, tzinfo=dt.UTC)
NEW = "kestrel-window-chair-9"


@pytest.fixture(autouse=True)
def clock():
    empty_own_cache_keys()
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller
    empty_own_cache_keys()


def change(client, *, old: str = PASSWORD, new: str = NEW, again: str | None = None):
    return client.post("/account/password/", {"old_password": old, "new_password1": new, "new_password2": again or new})


def signs_in(user, password: str) -> bool:
    return authenticate(HttpRequest(), username=user.username, password=password) is not None


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["front_desk", "nurse"])
def test_a_signed_in_user_changes_their_password_and_stays_signed_in(client, personas, who):
    user = getattr(personas, who).user
    login(client, user)
    page = client.get("/account/")
    assert 'href="/account/password/"' in page.content.decode()
    form = client.get("/account/password/")
    assert form.status_code == 200
    assert 'autocomplete="current-password"' in form.content.decode()

    response = change(client)
    assert response.status_code == 302 and response["Location"] == "/account/"
    assert "Your password was changed." in client.get("/account/").content.decode()
    assert client.get("/board/").status_code == 200  # still signed in (the session was kept)
    user.refresh_from_db()
    assert signs_in(user, NEW) and not signs_in(user, PASSWORD)


@pytest.mark.django_db
def test_a_patient_changes_their_password_too(client, personas):
    user = personas.patient_a.user
    login(client, user)
    assert change(client).status_code == 302
    user.refresh_from_db()
    assert signs_in(user, NEW)


@pytest.mark.django_db
def test_a_changed_password_revokes_the_users_api_tokens_and_says_so(client, personas):
    user = personas.front_desk.user
    token_issue(user=user)
    login(client, user)
    response = change(client)
    assert response.status_code == 302
    assert not AuthToken.objects.filter(user=user).exists()
    assert "Your API tokens were revoked" in client.get("/account/").content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("old", "new", "again", "field", "said"),
    [
        ("not-my-password", NEW, None, "old_password", "Your old password was entered incorrectly"),
        (PASSWORD, NEW, NEW + "x", "new_password2", "The two password fields didn"),
        (PASSWORD, "abcabcabcabc", None, "new_password2", "one short pattern repeated"),
        (PASSWORD, "short", None, "new_password2", "too short"),
    ],
)
def test_a_refused_change_names_what_is_wrong_and_changes_nothing(client, personas, old, new, again, field, said):
    user = personas.nurse.user
    login(client, user)
    response = change(client, old=old, new=new, again=again)
    assert response.status_code == 200
    assert response.context["form"].has_error(field)
    assert said in response.content.decode()
    user.refresh_from_db()
    assert signs_in(user, PASSWORD) and not signs_in(user, new)


@pytest.mark.django_db
def test_wrong_current_passwords_lock_the_user_out_like_failed_sign_ins(client, personas, settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = personas.nurse.user
    login(client, user)
    for _ in range(2):
        assert change(client, old="guess").status_code == 200
    locked = change(client, old="guess")
    assert locked.status_code == 429
    # The right password does not get through while locked out, and nothing changed.
    assert change(client).status_code == 429
    assert client.get("/account/password/").status_code == 429
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.django_db
def test_the_page_needs_a_signed_in_user(client):
    response = client.get("/account/password/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert change(client).status_code == 302


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.ids += [value for name, value in attrs if name == "id"]


@pytest.mark.django_db
def test_a_new_password_breaking_several_rules_renders_valid_html_with_unique_ids(client, personas):
    """Rule: the page is valid HTML and accessible. A new password that breaks several of the
    site's rules ("1234": too short, too common, numeric, too few characters) gives one error per
    rule; each error paragraph gets id="id_new_password2-error", so the id is repeated and the
    input's aria-describedby names only the first of them."""
    login(client, personas.nurse.user)
    response = change(client, new="1234")
    assert response.status_code == 200
    parser = _Ids()
    parser.feed(response.content.decode())
    repeated = {value: n for value, n in Counter(parser.ids).items() if n > 1}
    assert repeated == {}


@pytest.mark.django_db
def test_leaving_the_current_password_empty_is_not_a_failed_sign_in(client, personas, settings):
    """Rule: a *wrong* current password counts as a failed sign-in (as on /login/, where an empty
    password field is refused by the form and never reaches authentication). A submission whose
    current-password box was left empty (a password manager filled only the new-password boxes)
    guesses nothing and must not lock the user out."""
    settings.AXES_FAILURE_LIMIT = 3
    login(client, personas.nurse.user)
    answers = [change(client, old="").status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    assert client.get("/account/password/").status_code == 200


@pytest.mark.django_db
def test_a_successful_change_clears_the_failed_attempts_it_counted(client, personas, settings):
    """Rule: the page treats the current password like a sign-in. A wrong one counts as a failed
    sign-in, so the right one must count as a successful one (AXES_RESET_ON_SUCCESS: a successful
    sign-in clears the failures). Otherwise a nurse who mistyped the current password twice, then
    changed it, is locked out of /login/ by a single typo of the new password."""
    settings.AXES_FAILURE_LIMIT = 3
    user = personas.nurse.user
    login(client, user)
    assert [change(client, old="guess").status_code for _ in range(2)] == [200, 200]
    assert change(client).status_code == 302
    client.logout()
    assert client.post("/login/", {"username": user.username, "password": "kestrel-window-chair"}).status_code == 200
    response = client.post("/login/", {"username": user.username, "password": NEW})
    assert response.status_code == 302
