"""The analysts' modeler pages (流程建模): processes and their versions, the BPMN and DMN editors,
validation, deployment, history, the diff between two versions, downloads and imports.

Only the analyst role may use any of it (403 for everyone else, checked here on the server).
The operations live in `engine.modeling`; these views only read the request and answer.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Blueprint, Response, abort, jsonify, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf

from engine import modeling, services
from engine.green import case_file as case_files
from engine.green.roles import ROLES
from engine.model_registry import FORM_PREFIX, ModelInvalid
from engine.models import ModelVersion

from .. import security
from ..model_texts import model_text
from ..policy import demand
from ..runtime import runtime
from . import wording

bp = Blueprint("modeler", __name__, template_folder="templates", url_prefix="/models")
VERSION = "<string(length=64):version_id>"


@bp.before_request
@login_required
def _analysts_only():
    demand("models.edit")


def _version(version_id: str) -> ModelVersion:
    version = modeling.version_or_none(version_id)
    if version is None:
        abort(404)
    return version


def _file(version_id: str, name: str) -> bytes:
    files = modeling.files_of(_version(version_id).id)
    if name not in files:
        abort(404)
    return files[name]


def _texts() -> dict:
    return {
        "groupLabel": _("本系统读取的设置"), "laneRole": _("泳道角色"), "noRole": _("（未指定角色）"),
        "form": _("表单"), "noForm": _("（无表单）"), "dueDate": _("办理时限 dueDate"),
        "dueDateHelp": _("表达式，如 working_days_after(today(), 5)"),
        "remindBefore": _("提前提醒 remindBefore"), "remindBeforeHelp": _("ISO 时长，如 P3D"),
        "escalateTo": _("逾期督办 escalateTo"), "ownRole": _("（本任务的角色）"),
        "caseFileSections": _("卷宗内容 caseFileSections"),
        "caseFileSectionsHelp": _("办理页面旁显示的卷宗部分，逗号分隔：%(names)s；不填则显示 %(default)s",
                                  names=", ".join(case_files.SECTIONS), default=", ".join(case_files.DEFAULT)),
        "script": _("脚本（Python）"), "scriptHelp": _("Python；可用 today()、working_days_after() 等"),
        "condition": _("条件（Python 表达式）"), "conditionHelp": _("如 decision == \"approve\""),
        "decision": _("调用的决策表"), "operation": _("服务操作"), "resultVariable": _("结果变量"),
        "parameters": _("参数"), "parametersHelp": _("每行一个：名称 = 表达式"),
        "timerHelp": _("定时器表达式为 Python：\"P90D\"（带引号）、end_of_day(working_days_after(notice_published, 5))、"
                       "end_of_day(next_annual(3, 31))、days_after(d, 90)"),
        "loadFailed": _("无法载入模型："), "validating": _("校验中…"), "valid": _("校验通过，没有错误。"),
        "hasErrors": _("有 %d 个错误，无法部署。"), "deploying": _("部署中…"),
        "deployed": _("已部署为新版本 %s。"), "unchanged": _("内容未变，仍是版本 %s。"),
        "notDeployed": _("未部署：请先改正错误。"), "notOnCanvas": _("元素 %s 不在此图上。"),
        "noFindings": _("没有发现问题。"), "error": _("错误"), "warning": _("警告"),
        "otherFiles": _("其他文件的问题"),
        # time limits and timers as fields
        "noLimit": _("（无时限）"), "workingDays": _("工作日"), "calendarDays": _("自然日"),
        "annualDate": _("每年固定日期"), "otherExpression": _("其他表达式（文本）"),
        "workingDaysCount": _("工作日数"), "calendarDaysCount": _("自然日数"), "month": _("月"), "day": _("日"),
        "from": _("起算日"), "fromHelp": _("案件数据中的日期名称，如 notice_published；留空为当日起算"),
        "fromInvalid": _("须为案件数据的名称（字母、数字、下划线）"), "noSuchDay": _("没有这一天"),
        "wholeDays": _("须为 0 至 3650 的整数天"), "dueDateExpression": _("办理时限表达式"),
        "notFields": _("此表达式无法用字段表示，按文本编辑。"),
        "remindBeforeDays": _("到期前提醒天数 remindBefore"), "remindBeforeDaysHelp": _("留空为不提醒"),
        "timerDate": _("定时器到期日"), "timerDurationDays": _("定时器时长（天）"),
        "timerAsText": _("此定时器表达式无法用字段表示，请在上方“定时器”一栏按文本编辑。"),
    }


def _forms() -> list[str]:
    folder = Path(runtime().registry.forms_dir or "")
    return sorted(p.name for p in folder.glob("*.json")) if folder.is_dir() else []


def _editor(version: ModelVersion | None, file_name: str, xml_url: str, files: dict[str, bytes]):
    kind = "dmn" if file_name.endswith(".dmn") else "bpmn"
    config = {
        "file": file_name,
        "base": version.id if version else None,
        "xmlUrl": xml_url,
        "validateUrl": url_for("modeler.validate"),
        "deployUrl": url_for("modeler.deploy"),
        "csrf": generate_csrf(),
        "forms": sorted({*_forms(), *(n[len(FORM_PREFIX):] for n in files if n.startswith(FORM_PREFIX))}),
        "roles": [{"code": c, "zh": zh, "en": en} for c, (zh, en) in ROLES.items()],
        "operations": sorted(services.OPERATIONS),
        "decisions": modeling.decisions_in(files),
        "texts": _texts(),
        "lang": "en" if str(get_locale()) == "en" else "zh",
        "styleNonce": security.allow_editor_styles(),
    }
    return render_template("modeler/editor.html", kind=kind, file_name=file_name, version=version,
                           config=json.dumps(config, ensure_ascii=False))


@bp.get("/")
def index():
    entries = modeling.catalogue()
    latest = modeling.latest_version()
    tables = modeling.decision_tables(modeling.files_of(latest.id)) if latest else []
    return render_template("modeler/index.html", entries=entries, latest=latest, tables=tables)


@bp.get(f"/versions/{VERSION}/edit/<path:file_name>")
def edit(version_id, file_name):
    version = _version(version_id)
    files = modeling.files_of(version.id)
    if file_name not in files or file_name.startswith(FORM_PREFIX):
        abort(404)
    return _editor(version, file_name, url_for("modeler.download", version_id=version.id, file_name=file_name), files)


@bp.get("/new")
def new():
    process_id = request.args.get("process_id", "").strip()
    try:
        modeling.blank_diagram(process_id, request.args.get("name", ""))
    except modeling.ModelingError as exc:
        return render_template("modeler/message.html", message=model_text(str(exc))), 400
    latest = modeling.latest_version()
    files = modeling.files_of(latest.id) if latest else {}
    file_name = f"{process_id}.bpmn"
    if file_name in files:
        return render_template("modeler/message.html", message=_("文件 %(f)s 已存在。", f=file_name)), 400
    xml_url = url_for("modeler.blank", process_id=process_id, name=request.args.get("name", ""))
    return _editor(latest, file_name, xml_url, files)


@bp.get("/new.bpmn")
def blank():
    try:
        xml = modeling.blank_diagram(request.args.get("process_id", ""), request.args.get("name", ""))
    except modeling.ModelingError as exc:
        return jsonify(error=model_text(str(exc))), 400
    return Response(xml, mimetype="application/xml")


def _edit_request() -> tuple[str | None, str, str]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("file"), str) or not isinstance(body.get("xml"), str):
        abort(Response(json.dumps({"error": _("请求须含 file 与 xml")}), 400, mimetype="application/json"))
    base = body.get("base") if isinstance(body.get("base"), str) else None
    return base, body["file"], body["xml"]


def _in_language(findings: list[dict]) -> list[dict]:
    """Findings as the analyst reads them: each message in the page's language."""
    return [{**f, "message": model_text(f["message"])} for f in findings]


@bp.post("/validate")
def validate():
    base, file_name, xml = _edit_request()
    try:
        check = modeling.validate(runtime().registry, base, file_name, xml)
    except modeling.ModelingError as exc:
        return jsonify(error=model_text(str(exc))), 400
    return jsonify(findings=_in_language(modeling.findings_json(check.findings, file_name)), processes=check.processes)


@bp.post("/deploy")
def deploy():
    base, file_name, xml = _edit_request()
    note = (request.get_json(silent=True) or {}).get("note")
    try:
        version, created = modeling.deploy(runtime().registry, base, file_name, xml, current_user.name,
                                           note if isinstance(note, str) else "")
    except modeling.StaleBase as exc:
        return jsonify(error=model_text(str(exc))), 409
    except modeling.ModelingError as exc:
        return jsonify(error=model_text(str(exc))), 400
    except ModelInvalid as exc:
        return jsonify(findings=_in_language(modeling.findings_json(exc.findings, file_name))), 422
    # the history of the process the analyst edited (a version holds them all); for a decision table, the first
    shown = (modeling.processes_of(version.id, file_name) or version.processes or [None])[0]
    return jsonify(
        version=version.id, created=created, processes=version.processes, warnings=_in_language(version.warnings or []),
        history_url=url_for("modeler.history", process_id=shown) if shown else url_for("modeler.index"),
    ), 201 if created else 200


@bp.route("/import", methods=["GET", "POST"])
def import_diagram():
    findings, result = [], None
    if request.method == "POST":
        upload = request.files.get("file")
        note = request.form.get("note", "")
        if upload is None or not upload.filename:
            return render_template("modeler/import.html", error=_("请选择一个 .bpmn 或 .dmn 文件。")), 400
        name = os.path.basename(upload.filename)
        content = upload.read(modeling.MAX_FILE_BYTES + 1)
        try:
            version, created = modeling.import_file(runtime().registry, name, content, current_user.name, note)
        except modeling.ModelingError as exc:
            return render_template("modeler/import.html", error=model_text(str(exc))), 400
        except ModelInvalid as exc:
            findings = modeling.findings_json(exc.findings, name)
            return render_template("modeler/import.html", findings=findings, file_name=name), 422
        result = {"version": version, "created": created}
        findings = version.warnings or []
    return render_template("modeler/import.html", findings=findings, result=result)


@bp.get("/history/<process_id>")
def history(process_id):
    versions = modeling.history(process_id)
    if not versions:
        abort(404)
    files = {v.id: modeling.file_defining(modeling.files_of(v.id), process_id) for v in versions}
    return render_template("modeler/history.html", process_id=process_id, versions=versions, files=files,
                           grouped=modeling.files_by_version(versions))


@bp.get("/diff")
def diff():
    process_id = request.args.get("process", "")
    old, new = _version(request.args.get("from", "")), _version(request.args.get("to", ""))
    changes = [c.as_dict() for c in modeling.diff(old.id, new.id)]
    old_file = modeling.file_defining(modeling.files_of(old.id), process_id) if process_id else None
    new_file = modeling.file_defining(modeling.files_of(new.id), process_id) if process_id else None
    return render_template("modeler/diff.html", process_id=process_id, old=old, new=new, changes=changes,
                           old_file=old_file, new_file=new_file, wording=wording)


@bp.get(f"/versions/{VERSION}/files/<path:file_name>")
def download(version_id, file_name):
    content = _file(version_id, file_name)
    mimetype = "application/json" if file_name.endswith(".json") else "application/xml"
    inline = request.args.get("download") is None
    disposition = "inline" if inline else f'attachment; filename="{os.path.basename(file_name)}"'
    # An uploaded XML file opened in a tab must not run anything it carries (an XHTML script).
    return Response(content, mimetype=mimetype, headers={
        "Content-Disposition": disposition, "Cache-Control": "private, max-age=3600",
        "Content-Security-Policy": "default-src 'none'; sandbox", "X-Content-Type-Options": "nosniff"})


@bp.get(f"/versions/{VERSION}.zip")
def download_zip(version_id):
    version = _version(version_id)
    return Response(modeling.zip_of(version.id), mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="green-ladder-{version.id[:12]}.zip"'})
