"""OpenAPI 3.1 of the box's platform API, built on the published record schemas.

The box serves this document at ``GET /api/v1/openapi.json``; ``python -m standard.documents``
writes the same document to ``docs/standard/openapi.json``. Record bodies are the schemas of
:mod:`standard.schema`, with their ``$defs`` moved to ``components/schemas`` so that the file
stands alone for code generators.

Example::

    >>> doc = openapi_document()
    >>> doc["openapi"], sorted(doc["paths"])[:2]
    ('3.1.0', ['/api/v1/evaluations', '/api/v1/openapi.json'])
"""

from __future__ import annotations

import copy
from typing import Any

from standard.records import MAX_RECORD_CHARS
from standard.schema import schema_documents

OPENAPI_VERSION = "1.3.0"  # follows the standard's changelog (docs/standard/README.md)

_REF = "#/components/schemas/"

# What the platform should do on each answer, in one place (the standard's page repeats it).
ANSWERS: dict[str, tuple[str, str]] = {
    "200": ("已接收（可能部分被拒）：`rejected` 中的记录修正后重发，其余不必重发。",
            "Taken (perhaps partly): fix and resend only the records listed in `rejected`."),
    "400": ("请求体不是 JSON 数组或 NDJSON：原文已存入隔离表；修正导出程序后重发，原样重发无用。",
            "The body is not a JSON array or NDJSON (kept in quarantine): fix the exporter,"
            " do not resend it unchanged."),
    "401": ("平台令牌缺失或错误：更正令牌后重发。",
            "Missing or wrong platform token: fix the token, then resend."),
    "413": ("请求体超过 32 MiB：分批后重发。",
            "The body is over 32 MiB: split it into smaller batches and resend."),
    "422": ("全部记录被拒（见 `rejected`，均已存入隔离表）：修正后重发，原样重发无用。",
            "Every record was refused (see `rejected`, all quarantined): fix them, do not"
            " resend unchanged."),
    "503": ("箱体暂时忙（接入队列已满）或该服务未启用，本次请求一条记录也未保存：按 `Retry-After`"
            " 秒数等待后原样重发。",
            "The box is busy (its ingest queue is full) or the service is not enabled, and"
            " nothing of this request was stored: wait `Retry-After` seconds and resend the"
            " same body."),
    "507": ("箱体存储已满，本批未保存：稍后原样重发（退避重试），并通知运维。",
            "The box's storage is full and nothing of this body was stored: resend the same"
            " body later, with backoff, and tell the box's operators."),
}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``POST /api/v1/platform/events`` and ``/api/v1/evaluations``."""
    schemas = _record_components()
    schemas.update(_answer_components())
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "hallwatch 电子监察箱体：平台接口 (edge box platform API)",
            "version": OPENAPI_VERSION,
            "description": (
                "区审批平台向电子监察箱体报送办件过程记录和好差评。记录格式见数据交换标准"
                "（docs/standard/README.md）。重发同一 event_id / evaluation_id 无害（幂等），"
                "因此任何不确定的情况都可以原样重发。\n\n"
                "District platforms send case events and evaluations to their hall's box."
                " Resending the same event_id or evaluation_id is harmless (idempotent), so a"
                " platform in doubt may always resend. Each record is judged on its own: a body"
                " with some bad records is answered 200 with the bad ones in `rejected`. One"
                f" record's JSON text may be at most {MAX_RECORD_CHARS} characters."),
        },
        "servers": [{"url": "http://{box}:8080", "variables": {"box": {"default": "127.0.0.1"}}}],
        "security": [{"platformToken": []}],
        "paths": {
            "/api/v1/platform/events": {"post": _intake_operation(
                "platformEvents", "报送办件过程记录 (send case events)", "CaseEvent",
                "IngestAnswer", single_object=False)},
            "/api/v1/evaluations": {"post": _intake_operation(
                "evaluations", "报送好差评 (send evaluations from QR code, online, SMS, 12345,"
                " terminals)", "Evaluation", "EvaluationAnswer", single_object=True)},
            "/api/v1/platform/reconciliation": {"post": _reconciliation_operation()},
            "/api/v1/openapi.json": {"get": {
                "operationId": "openapi", "summary": "本文档 (this document)", "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1",
                                      "content": {"application/json": {"schema": {
                                          "type": "object"}}}}}}},
        },
        "components": {
            "securitySchemes": {"platformToken": {
                "type": "http", "scheme": "bearer",
                "description": "箱体安装时生成的平台令牌 (the platform token made when the box"
                               " was provisioned): `Authorization: Bearer <token>`."}},
            "schemas": schemas,
        },
    }


def _record_components() -> dict[str, Any]:
    """CaseEvent and Evaluation as published, their $defs hoisted into components."""
    components: dict[str, Any] = {}
    for file_name, name in (("case-event.schema.json", "CaseEvent"),
                            ("evaluation.schema.json", "Evaluation"),
                            ("reconciliation.schema.json", "PlatformCounts")):
        document = copy.deepcopy(schema_documents()[file_name])
        for key in ("$schema", "$id"):
            document.pop(key)
        for def_name, definition in document.pop("$defs", {}).items():
            components[def_name] = _rewrite_refs(definition)
        document["description"] = (f"{document.get('description', '')} Published as"
                                   f" docs/standard/{file_name}.").strip()
        components[name] = _rewrite_refs(document)
    return components


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: (value.replace("#/$defs/", _REF) if key == "$ref" else _rewrite_refs(value))
                for key, value in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(value) for value in node]
    return node


def _answer_components() -> dict[str, Any]:
    text = {"type": "string"}
    return {
        "FieldProblem": {
            "type": "object", "required": ["field", "message"], "additionalProperties": False,
            "properties": {
                "field": {**text, "description": "出错字段，如 fee_amount、actor.name；整条记录为"
                                                 " (record)，整个请求体为 (body)。"},
                "message": {**text, "description": "中文说明 (English), 与 `hallwatch standard"
                                                   " validate` 的输出一致。"}}},
        "RejectedRecord": {
            "type": "object", "required": ["index", "errors"], "additionalProperties": False,
            "description": "被拒记录：请求体中的位置（JSON 数组下标或 NDJSON 行号，从 0 起）和问题。",
            "properties": {"index": {"type": "integer", "minimum": 0},
                           "errors": {"type": "array", "minItems": 1,
                                      "items": {"$ref": _REF + "FieldProblem"}}}},
        "IngestAnswer": {
            "type": "object", "required": ["accepted", "duplicates", "rejected"],
            "properties": {
                "accepted": {"type": "integer", "minimum": 0,
                             "description": "新保存的记录数（已落盘）。"},
                "duplicates": {"type": "integer", "minimum": 0,
                               "description": "此前已收到的记录数（重发无害）。"},
                "conflicts": {"type": "integer", "minimum": 0,
                              "description": "以已收到的编号（event_id 或 evaluation_id）重发、"
                                             "但内容不同的记录数：已保存的记录不变，重发的记录"
                                             "已隔离，箱体开启“数据冲突”预警。"},
                "conflicting": {"type": "array", "items": {
                    "type": "object", "required": ["index", "fields"],
                    "properties": {"index": {"type": "integer", "minimum": 0},
                                   "event_id": text, "evaluation_id": text,
                                   "fields": {"type": "array", "items": text,
                                              "description": "与已保存记录不同的字段。"}}}},
                "rejected": {"type": "array", "items": {"$ref": _REF + "RejectedRecord"}}}},
        "EvaluationAnswer": {
            "allOf": [{"$ref": _REF + "IngestAnswer"}],
            "properties": {"ratings": {"type": "array", "items": {
                "type": "object", "required": ["index", "rating_id"],
                "properties": {"index": {"type": "integer"}, "rating_id": {"type": "integer"},
                               "counted": {"type": "boolean"},
                               "repeat_of": {"type": ["integer", "null"]},
                               "followup_opened": {"type": "boolean"},
                               "duplicate": {"type": "boolean"}}}}}},
        "ReconciliationAnswer": {
            "type": "object", "required": ["date", "origin", "matched", "items"],
            "properties": {
                "date": {"type": "string", "format": "date"},
                "origin": text,
                "matched": {"type": "boolean",
                            "description": "各事项件数一致；不一致时箱体已开启“数据报送”预警。"},
                "items": {"type": "array", "items": {
                    "type": "object",
                    "required": ["item_code", "platform", "box", "difference"],
                    "properties": {"item_code": text,
                                   "platform": {"type": "integer", "minimum": 0},
                                   "box": {"type": "integer", "minimum": 0},
                                   "difference": {"type": "integer",
                                                  "description": "box − platform"}}}}}},
        "BodyProblems": {
            "type": "object", "required": ["error", "problems"],
            "properties": {"error": text,
                           "problems": {"type": "array",
                                        "items": {"$ref": _REF + "FieldProblem"}}}},
        "Error": {
            "type": "object", "required": ["error"],
            "properties": {"error": {**text, "description": "中文说明 (English)。"}}},
    }


def _intake_operation(operation_id: str, summary: str, record: str, answer: str, *,
                      single_object: bool) -> dict[str, Any]:
    ref = {"$ref": _REF + record}
    array = {"type": "array", "items": ref}
    body = {"oneOf": [ref, array]} if single_object else array
    error = {"application/json": {"schema": {"$ref": _REF + "Error"}}}
    answered = {"application/json": {"schema": {"$ref": _REF + answer}}}

    def response(code: str, content: dict[str, Any]) -> dict[str, Any]:
        chinese, english = ANSWERS[code]
        return {"description": f"{chinese} {english}", "content": content}

    busy = response("503", error)
    busy["headers"] = {"Retry-After": {"description": "秒数 (seconds to wait)",
                                       "schema": {"type": "integer", "minimum": 0}}}
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": (
            "请求体为 JSON 数组或 NDJSON（每行一条）" + ("，也可以是单个 JSON 对象" if single_object
                                                      else "") + "；不检查 Content-Type。每条记录"
            "单独判定，已保存的记录在应答前已落盘。The body is a JSON array or NDJSON (one record"
            " a line)" + (", or one JSON object" if single_object else "") + "; Content-Type is"
            " not checked. Records are judged one by one, and those taken are on disk before the"
            " answer."),
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": body},
            "application/x-ndjson": {"schema": ref}}},
        "responses": {
            "200": response("200", answered), "400": response("400", error),
            "401": response("401", error), "413": response("413", error),
            "422": response("422", answered), "503": busy, "507": response("507", error)},
    }


def _reconciliation_operation() -> dict[str, Any]:
    """``POST /api/v1/platform/reconciliation``: one day's count per item, compared at once."""
    def content(name: str) -> dict[str, Any]:
        return {"application/json": {"schema": {"$ref": _REF + name}}}

    def response(code: str, name: str) -> dict[str, Any]:
        chinese, english = ANSWERS[code]
        return {"description": f"{chinese} {english}", "content": content(name)}

    return {
        "operationId": "platformReconciliation",
        "summary": "报送当日各事项办件记录数，供箱体对账 (send a day's count per item)",
        "description": (
            "平台每天报送一次前一日各事项的记录数；箱体与本机保存的记录逐项比较，不一致时开启"
            "“数据报送”预警并上报中心，同一日再次报送一致的件数即消警。重发无害。"
            " Once a day the platform sends its count of records per item for the day before;"
            " the box compares it with what it stored, opens a 数据报送 alert on a difference"
            " and relays the figures to the hub. A later agreeing count for the same day"
            " clears the alert; resending is harmless."),
        "requestBody": {"required": True, "content": content("PlatformCounts")},
        "responses": {
            "200": {"description": "已对账：`items` 列出每个事项的双方件数。Compared: `items`"
                                   " gives both counts for every item.",
                    "content": content("ReconciliationAnswer")},
            "401": response("401", "Error"),
            "413": response("413", "Error"),
            "422": {"description": "请求体不符合对账格式（见 `problems`，字段已指明）：修正后重发。"
                                   " The body does not follow the reconciliation schema (see"
                                   " `problems`, each naming its field): fix it and resend.",
                    "content": content("BodyProblems")},
            "507": response("507", "Error"),
        },
    }
