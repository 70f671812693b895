"""Flows files: the example of docs/flows.md reads as written; every mistake is named with its line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from kvar.cli import app
from kvar.flows import FlowFileError, read_flows, schema

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "flows"


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """A copy of the example folder (flows file and templates) to break."""
    shutil.copytree(EXAMPLE, tmp_path / "flows")
    return tmp_path / "flows"


def test_the_schema_is_a_valid_json_schema() -> None:
    Draft202012Validator.check_schema(schema())


def test_the_documented_example_reads_as_written() -> None:
    flows = read_flows(EXAMPLE / "flows.yaml")
    assert [flow.name for flow in flows.flows] == ["winback", "welcome", "anniversary", "renewal", "at_risk", "dunning"]
    winback = flows.flows[0]
    assert (winback.trigger, winback.trigger_value, winback.holdout, winback.line) == ("inactive_for", "60d", 0.1, 10)
    assert winback.audience == ("At risk", "Can't lose them")  # written "At Risk", "Can't Lose Them"
    assert [(step.kind, step.line) for step in winback.steps] == [("email", 16), ("wait", 17), ("email", 18)]
    assert winback.steps[1].wait.days == 7 and winback.steps[2].unless == "purchased"
    assert flows.flows[-1].kind == "transactional"
    assert {name: channel.kind for name, channel in flows.channels.items()} == {"email": "email", "crm": "webhook"}
    policies = flows.policies
    assert (policies.caps["email"]["per_week"], policies.global_holdout, policies.timezone) == (
        3,
        0.05,
        "Europe/Stockholm",
    )
    assert (policies.quiet_start.hour, policies.quiet_end.hour) == (21, 8)


def _problems(folder: Path, old: str, new: str) -> list[str]:
    path = folder / "flows.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(FlowFileError) as raised:
        read_flows(path)
    return [f"{problem.line}: {problem.path}: {problem.message}" for problem in raised.value.problems]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "inactive_for: 60d",
            "inactive_for: 60 days",
            "11: flows[0].trigger.inactive_for: expected a duration such as 60d, 12h or 2w, got '60 days'",
        ),
        (
            "{inactive_for: 60d}",
            "{inactive_for: 60d, acquired: true}",
            "11: flows[0].trigger: expected exactly one trigger among acquired, inactive_for",
        ),
        (
            "trigger: {acquired: true}",
            "trigger: {signed_up: true}",
            "20: flows[1].trigger: unknown key 'signed_up'; expected acquired, anniversary_of",
        ),
        ("holdout: 0.10", "holdout: 0.9", "13: flows[0].holdout: expected a number from 0 to 0.5, got 0.9"),
        ("- wait: 7d", "- pause: 7d", "17: flows[0].steps[1]: expected a step: email, webhook or wait; got 'pause'"),
        (
            "- wait: 7d",
            "- wait: soon",
            "17: flows[0].steps[1].wait: expected a duration such as 60d, 12h or 2w, got 'soon'",
        ),
        (
            'start: "21:00"',
            'start: "25:00"',
            "7: policies.quiet_hours.start: expected a time of day HH:MM, got '25:00'",
        ),
        ("name: at_risk", "name: At-Risk", "31: flows[4].name: expected a name of lower-case letters, digits and _"),
        (
            "kind: transactional",
            "kind: urgent",
            '37: flows[5].kind: expected "marketing" or "transactional", got \'urgent\'',
        ),
        ('smtp_url: "smtp://', 'smtp_url: "http://', "3: channels.email.smtp_url: expected an smtp:// or smtps:// URL"),
        (
            "template: welcome.html.j2",
            "template: welcome.html",
            "22: flows[1].steps[0].email.template: expected a Jinja2 template file ending in .j2",
        ),
        ("name: welcome", "name: winback", "19: winback: a second flow named winback (the first is on line 10)"),
        (
            "channel: crm",
            "channel: email",
            "34: at_risk.steps: no webhook channel named email; the webhook channels are crm",
        ),
        ("caps: {email:", "caps: {sms:", "6: policies.caps.sms: no channel named sms"),
        (
            "timezone: Europe/Stockholm",
            "timezone: Europe/Gothenburg",
            "7: policies.quiet_hours.timezone: unknown time zone 'Europe/Gothenburg'",
        ),
        (
            "template: renewal.html.j2",
            "template: renew.html.j2",
            "30: renewal.steps: template renew.html.j2 not found beside the flows file",
        ),
        (
            "segment: [At Risk",
            "segment: [At Riskk",
            "10: winback: unknown segment 'At Riskk'; kvar's segments are Champions",
        ),
        (
            '      - email: {template: anniversary.html.j2, subject: "A year together"}',
            '      - email: {template: anniversary.html.j2, subject: "A year together"}\n      - wait: 2w',
            "27: anniversary.steps: a flow cannot end with a wait",
        ),
        (
            "crm:     {webhook_url",
            "crm:     {hook_url",
            "4: channels.crm: expected a channel with smtp_url (e-mail) or webhook_url",
        ),
        ("flows:\n", "flow:\n", "9: : unknown key 'flow'; expected channels, flows, policies"),
        ("  - name: welcome\n", "  - name: welcome\n  oops: [\n", "20: : not valid YAML"),
    ],
)
def test_each_mistake_is_named_with_its_line(folder, old, new, expected) -> None:
    problems = _problems(folder, old, new)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_a_template_that_does_not_parse_names_its_own_line(folder) -> None:
    (folder / "dunning.html.j2").write_text("<p>Hi</p>\n<p>{% if customer.plan %}{{ customer.plan }}</p>\n")
    with pytest.raises(FlowFileError) as raised:
        read_flows(folder / "flows.yaml")
    (problem,) = raised.value.problems
    assert (problem.line, problem.path) == (40, "dunning.steps")
    assert problem.message.startswith("template dunning.html.j2 line 2: Unexpected end of template")


def test_every_problem_is_listed_in_line_order(folder) -> None:
    path = folder / "flows.yaml"
    path.write_text(path.read_text().replace("60d", "60 days").replace("0.10", "0.9"))
    with pytest.raises(FlowFileError) as raised:
        read_flows(path)
    assert [problem.line for problem in raised.value.problems] == [11, 13]
    assert str(raised.value).endswith("(and 1 more: kvar flows validate " + str(path) + ")")


def test_kvar_flows_validate_prints_problems_or_the_flows(folder) -> None:
    runner = CliRunner()
    good = runner.invoke(app, ["flows", "validate", str(folder / "flows.yaml"), "--json"])
    assert good.exit_code == 0, good.output
    document = json.loads(good.stdout)
    assert document["valid"] and [row["flow"] for row in document["rows"]][:2] == ["winback", "welcome"]
    assert document["rows"][0]["steps"] == ["email", "wait 7d", "email"]
    path = folder / "flows.yaml"
    path.write_text(path.read_text().replace("inactive_for: 60d", "inactive_for: 60 days"))
    bad = runner.invoke(app, ["flows", "validate", str(path), "--json"])
    assert bad.exit_code == 2
    document = json.loads(bad.stdout)
    assert not document["valid"] and document["problems"][0]["line"] == 11
    assert f"{path}:11: flows[0].trigger.inactive_for: expected a duration" in bad.stderr


def test_a_flows_file_built_from_python_is_checked_then_written(tmp_path) -> None:
    from kvar.flows import write_flows

    (tmp_path / "hello.html.j2").write_text("<p>Hello {{ customer.first_name }}</p>")
    document = {
        "channels": {"email": {"smtp_url": "smtp://127.0.0.1:2525", "from": "Shop <hello@shop.example>"}},
        "flows": [
            {"name": "welcome", "trigger": {"acquired": True}, "steps": [{"email": {"template": "hello.html.j2"}}]}
        ],
    }
    flows = write_flows(document, tmp_path / "flows.yaml")
    assert [flow.name for flow in flows.flows] == ["welcome"] and (tmp_path / "flows.yaml").exists()
    document["flows"][0]["trigger"] = {"inactive_for": "60 days"}
    with pytest.raises(FlowFileError, match="expected a duration"):
        write_flows(document, tmp_path / "other.yaml")
    assert not (tmp_path / "other.yaml").exists()
