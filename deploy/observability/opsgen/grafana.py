"""A small builder over Grafana's dashboard JSON model (schemaVersion 39): only what our dashboards use.

Every panel must carry a title, a description and a unit (the lint in tests/observability holds it to
that); every query goes to the templated ``${datasource}``, so one file serves every environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
WIDTH = 24


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    instant: bool = False


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    unit: str
    queries: tuple[Query, ...]
    kind: str = "timeseries"  # timeseries | stat | bargauge | table
    width: int = 12
    height: int = 8
    stack: bool = False
    thresholds: tuple[tuple[float, str], ...] = ()
    minimum: float | None = 0

    def to_json(self, panel_id: int, x: int, y: int) -> dict[str, Any]:
        defaults: dict[str, Any] = {"unit": self.unit}
        if self.minimum is not None:
            defaults["min"] = self.minimum
        if self.thresholds:
            defaults["thresholds"] = {
                "mode": "absolute",
                "steps": [{"color": "green", "value": None}]
                + [{"color": color, "value": value} for value, color in self.thresholds],
            }
        if self.kind == "timeseries":
            defaults["custom"] = {
                "drawStyle": "line", "lineWidth": 1, "fillOpacity": 10 if self.stack else 0,
                "showPoints": "never", "spanNulls": False,
                "stacking": {"mode": "normal" if self.stack else "none", "group": "A"},
            }
            options: dict[str, Any] = {
                "legend": {"displayMode": "table", "placement": "bottom", "showLegend": True,
                           "calcs": ["lastNotNull", "max"]},
                "tooltip": {"mode": "multi", "sort": "desc"},
            }
        elif self.kind == "stat":
            options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                       "colorMode": "background" if self.thresholds else "value", "graphMode": "area",
                       "textMode": "auto", "justifyMode": "auto", "orientation": "auto"}
        elif self.kind == "bargauge":
            options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                       "displayMode": "gradient", "orientation": "horizontal", "showUnfilled": True}
        else:
            raise ValueError(f"unknown panel kind {self.kind}")
        return {
            "id": panel_id,
            "type": self.kind,
            "title": self.title,
            "description": self.description,
            "datasource": DATASOURCE,
            "gridPos": {"h": self.height, "w": self.width, "x": x, "y": y},
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options,
            "targets": [
                {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": q.expr,
                 "legendFormat": q.legend or "__auto", "range": not q.instant, "instant": q.instant,
                 "editorMode": "code"}
                for i, q in enumerate(self.queries)
            ],
        }


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Variable:
    """A query variable over label values, filtered by the variables before it."""

    name: str
    label: str
    query: str  # label_values(...)
    include_all: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "type": "query",
            "datasource": DATASOURCE,
            "definition": self.query,
            "query": {"query": self.query, "refId": f"{self.name}-values", "qryType": 1},
            "refresh": 2,
            "sort": 1,
            "includeAll": self.include_all,
            "multi": self.include_all,
            "allValue": ".*" if self.include_all else None,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]} if self.include_all else {},
            "options": [],
            "hide": 0,
        }


ENVIRONMENT = Variable("environment", "Environment", "label_values(up, environment)", include_all=False)


def datasource_variable() -> dict[str, Any]:
    return {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
            "refresh": 1, "regex": "", "hide": 0, "current": {}, "options": []}


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    rows: tuple[Row, ...]
    variables: tuple[Variable, ...] = (ENVIRONMENT,)
    tags: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        panels: list[dict[str, Any]] = []
        panel_id = 1
        y = 0
        for row in self.rows:
            panels.append({"id": panel_id, "type": "row", "title": row.title, "collapsed": False,
                           "gridPos": {"h": 1, "w": WIDTH, "x": 0, "y": y}, "panels": []})
            panel_id += 1
            y += 1
            x = 0
            row_height = 0
            for panel in row.panels:
                if x + panel.width > WIDTH:
                    x, y, row_height = 0, y + row_height, 0
                panels.append(panel.to_json(panel_id, x, y))
                panel_id += 1
                x += panel.width
                row_height = max(row_height, panel.height)
            y += row_height
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["microcred", *self.tags],
            "timezone": "utc",
            "editable": False,
            "graphTooltip": 1,
            "schemaVersion": 39,
            "version": 1,
            "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"},
            "timepicker": {},
            "links": [{"title": "Microcred dashboards", "type": "dashboards", "tags": ["microcred"],
                       "asDropdown": True, "includeVars": True, "keepTime": True}],
            "annotations": {"list": []},
            "templating": {"list": [datasource_variable(), *(v.to_json() for v in self.variables)]},
            "panels": panels,
        }
