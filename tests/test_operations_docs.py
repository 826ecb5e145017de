"""The dashboard and the alert rules in docs/ ask only for metrics /metrics serves, and
the README describes every panel of the dashboard."""

from __future__ import annotations

import json
import re

import yaml

from contextsvc.settings import REPO_ROOT
from tests.helpers import Scrape, scrape

DOCS = REPO_ROOT / "docs"
_METRIC = re.compile(r"\b((?:contextsvc|process)_[a-z0-9_]+)")
_SUFFIXES = ("", "_total", "_bucket", "_count", "_sum")


def _dashboard() -> dict:
    return json.loads((DOCS / "grafana-dashboard.json").read_text())


def _panels() -> list[dict]:
    return [panel for panel in _dashboard()["panels"] if panel["type"] != "row"]


def _served(metrics: Scrape) -> set[str]:
    from prometheus_client.parser import text_string_to_metric_families

    families = {family.name for family in text_string_to_metric_families(metrics.text)}
    return {family + suffix for family in families for suffix in _SUFFIXES}


async def test_the_dashboard_and_the_alerts_use_only_served_metrics(api):
    served = _served(await scrape(api))
    queries = [target["expr"] for panel in _panels() for target in panel["targets"]]
    rules = yaml.safe_load((DOCS / "prometheus-alerts.yml").read_text())["groups"][0]["rules"]
    queries += [rule["expr"] for rule in rules]
    asked = {name for query in queries for name in _METRIC.findall(query)}
    assert asked and asked - served == set()
    assert all(
        rule["labels"]["severity"] in ("critical", "warning", "info") and rule["annotations"]["summary"]
        for rule in rules
    )


def test_the_dashboard_covers_what_the_issue_lists_and_the_readme_describes_every_panel():
    panels = _panels()
    exprs = " ".join(target["expr"] for panel in panels for target in panel["targets"])
    for needed in (
        "contextsvc_http_request_duration_seconds",
        "contextsvc_ingest_items_total",
        "contextsvc_writer_commit_seconds_bucket",
        "contextsvc_cache_lookups_total",
        "contextsvc_webhook_outbox",
        "contextsvc_salesforce_sync_lag_seconds",
    ):
        assert needed in exprs
    readme = (REPO_ROOT / "README.md").read_text()
    operating = " ".join(readme[readme.index("## Operating it") :].split())  # as read, not as wrapped
    missing = [panel["title"] for panel in panels if f"**{panel['title']}**" not in operating]
    assert missing == []
    assert all(panel["description"] for panel in panels)
    assert len({panel["id"] for panel in _dashboard()["panels"]}) == len(_dashboard()["panels"])
