"""AWS Backup shims for moto 5.2.5, applied by scripts/moto_server.py before the server starts.
What each fixes, the way AWS Backup behaves:
- Backup selections (CreateBackupSelection, GetBackupSelection, ListBackupSelections,
  DeleteBackupSelection) answer HTTP 500 (not implemented): implemented. A selection belongs
  to a plan, has a SelectionId, a SelectionName, an IamRoleArn and Resources; a repeated
  CreatorRequestId on the same plan answers the selection it first made; an unknown plan or
  selection is ResourceNotFoundException.
- UpdateBackupPlan answers HTTP 500: implemented (the plan's document replaced, a new
  VersionId, the rules' defaults filled in as CreateBackupPlan does).
- CreateBackupPlan and CreateBackupVault refuse a repeated CreatorRequestId with
  AlreadyExistsException: AWS answers the retry with what the first request made. A plan
  deleted earlier no longer blocks its name (moto kept counting it).
- DeleteBackupPlan deletes a plan that still has selections: AWS refuses
  (InvalidRequestException) until they are deleted; a deleted plan is deleted again as
  ResourceNotFoundException.
- DeleteBackupVault deletes a vault holding recovery points and answers a missing vault with
  success: AWS refuses the first (InvalidRequestException: the recovery points must be deleted
  first) and answers the second with ResourceNotFoundException.
- ListTags reads the ARN from the path's second-to-last segment, so a request to
  `/tags/{ResourceArn}` without a trailing slash (the form the current AWS model and the Rust
  SDK send) is answered with no tags at all: the ARN is read as the segment after `tags`, with
  or without the slash.
Every patched name is checked first, so a moto upgrade that moves one fails loudly at start-up.
"""
import json
import time
import uuid
from urllib.parse import unquote

import moto.backup.exceptions as bk_exceptions
import moto.backup.models as bk_models
import moto.backup.responses as bk_responses
from moto.moto_api._internal import mock_random

from moto_shimkit import requirer

_require = requirer("the AWS Backup shim", "scripts/moto_backup_shim.py")


def _selections(backend):
    if not hasattr(backend, "rtech_selections"):
        backend.rtech_selections = {}  # plan id -> {selection id -> dict}
    return backend.rtech_selections


def _plan_id(path):
    # /backup/plans/{id}[/selections[/{selection id}]]
    parts = [p for p in path.split("?")[0].split("/") if p]
    return unquote(parts[2]) if len(parts) > 2 else None


def _selection_id(path):
    parts = [p for p in path.split("?")[0].split("/") if p]
    return unquote(parts[4]) if len(parts) > 4 else None


def _tagged_arn(path):
    # /tags/{arn} or /tags/{arn}/ (an ARN has no "/" once decoded, and none encoded)
    parts = [p for p in path.split("?")[0].split("/") if p]
    return unquote(parts[1]) if len(parts) > 1 and parts[0] == "tags" else None


def _fill_rule_defaults(plan_doc):
    for rule in plan_doc.get("Rules", []):
        rule.setdefault("ScheduleExpression", "cron(0 5 ? * * *)")
        rule.setdefault("StartWindowMinutes", 480)
        rule.setdefault("CompletionWindowMinutes", 10080)
        rule.setdefault("ScheduleExpressionTimezone", "Etc/UTC")
        rule["RuleId"] = str(uuid.uuid4())


def apply():
    response = _require(bk_responses, "BackupResponse")
    backend_cls = _require(bk_models, "BackupBackend")
    not_found = _require(bk_exceptions, "ResourceNotFoundException")
    invalid = _require(bk_exceptions, "InvalidRequestException")
    exists = _require(bk_exceptions, "AlreadyExistsException")
    create_plan = _require(backend_cls, "create_backup_plan")
    create_vault = _require(backend_cls, "create_backup_vault")
    _require(backend_cls, "delete_backup_plan")
    _require(backend_cls, "delete_backup_vault")

    def live_plan(backend, plan_id):
        plan = backend.plans.get(plan_id)
        if plan is None or plan.deletion_date is not None:
            raise not_found(f"Failed reading Backup plan {plan_id}")
        return plan

    def create_backup_plan(self, backup_plan, backup_plan_tags, creator_request_id):
        if creator_request_id:
            for p in self.plans.values():
                if p.deletion_date is None and p.creator_request_id == creator_request_id:
                    return p
        name = backup_plan["BackupPlanName"]
        if any(p.deletion_date is None and p.backup_plan["BackupPlanName"] == name for p in self.plans.values()):
            raise exists("Backup plan with the same plan document already exists")
        # moto's own check counts deleted plans: set them aside for the call.
        deleted = {k: p for k, p in self.plans.items() if p.deletion_date is not None}
        for k in deleted:
            del self.plans[k]
        try:
            return create_plan(self, backup_plan, backup_plan_tags, creator_request_id)
        finally:
            self.plans.update(deleted)

    backend_cls.create_backup_plan = create_backup_plan

    def create_backup_vault(self, backup_vault_name, backup_vault_tags, encryption_key_arn, creator_request_id):
        v = self.vaults.get(backup_vault_name)
        if v is not None and creator_request_id and v.creator_request_id == creator_request_id:
            return v
        return create_vault(self, backup_vault_name, backup_vault_tags, encryption_key_arn, creator_request_id)

    backend_cls.create_backup_vault = create_backup_vault

    def delete_backup_plan(self, backup_plan_id):
        plan = live_plan(self, backup_plan_id)
        if _selections(self).get(backup_plan_id):
            raise invalid("Backup plan cannot be deleted: it still has backup selections; delete them first")
        plan.deletion_date = time.time()
        return plan.backup_plan_id, plan.backup_plan_arn, plan.deletion_date, plan.version_id

    backend_cls.delete_backup_plan = delete_backup_plan

    def delete_backup_vault(self, backup_vault_name):
        v = self.vaults.get(backup_vault_name)
        if v is None:
            raise not_found(f"Backup vault {backup_vault_name} does not exist")
        if v.num_of_recovery_points:
            raise invalid(
                f"Backup vault {backup_vault_name} cannot be deleted because it contains recovery points"
            )
        del self.vaults[backup_vault_name]

    backend_cls.delete_backup_vault = delete_backup_vault

    def update_backup_plan(self):
        b = self.backup_backend
        plan = live_plan(b, _plan_id(self.path))
        doc = json.loads(self.body).get("BackupPlan") or {}
        _fill_rule_defaults(doc)
        plan.backup_plan = doc
        plan.version_id = mock_random.get_random_string(length=48)
        return json.dumps(
            {
                "BackupPlanId": plan.backup_plan_id,
                "BackupPlanArn": plan.backup_plan_arn,
                "CreationDate": plan.creation_date,
                "VersionId": plan.version_id,
            }
        )

    response.update_backup_plan = update_backup_plan

    def create_backup_selection(self):
        b = self.backup_backend
        plan_id = _plan_id(self.path)
        live_plan(b, plan_id)
        params = json.loads(self.body)
        sel = params.get("BackupSelection") or {}
        token = params.get("CreatorRequestId")
        mine = _selections(b).setdefault(plan_id, {})
        for s in mine.values():
            if token and s["CreatorRequestId"] == token:
                break
        else:
            sid = str(uuid.uuid4())
            s = {
                "SelectionId": sid,
                "BackupPlanId": plan_id,
                "CreationDate": time.time(),
                "CreatorRequestId": token,
                "BackupSelection": {
                    "SelectionName": sel.get("SelectionName"),
                    "IamRoleArn": sel.get("IamRoleArn"),
                    "Resources": list(sel.get("Resources") or []),
                    "NotResources": list(sel.get("NotResources") or []),
                    "ListOfTags": list(sel.get("ListOfTags") or []),
                },
            }
            mine[sid] = s
        return json.dumps({"SelectionId": s["SelectionId"], "BackupPlanId": plan_id, "CreationDate": s["CreationDate"]})

    def get_backup_selection(self):
        b = self.backup_backend
        plan_id, sid = _plan_id(self.path), _selection_id(self.path)
        live_plan(b, plan_id)
        s = _selections(b).get(plan_id, {}).get(sid)
        if s is None:
            raise not_found(f"Backup selection {sid} not found")
        return json.dumps(s)

    def list_backup_selections(self):
        b = self.backup_backend
        plan_id = _plan_id(self.path)
        live_plan(b, plan_id)
        out = [
            {
                "SelectionId": s["SelectionId"],
                "SelectionName": s["BackupSelection"]["SelectionName"],
                "BackupPlanId": plan_id,
                "CreationDate": s["CreationDate"],
                "CreatorRequestId": s["CreatorRequestId"],
                "IamRoleArn": s["BackupSelection"]["IamRoleArn"],
            }
            for s in _selections(b).get(plan_id, {}).values()
        ]
        return json.dumps({"BackupSelectionsList": out})

    def delete_backup_selection(self):
        b = self.backup_backend
        plan_id, sid = _plan_id(self.path), _selection_id(self.path)
        if _selections(b).get(plan_id, {}).pop(sid, None) is None:
            raise not_found(f"Backup selection {sid} not found")
        return "{}"

    _require(response, "list_tags")

    def list_tags(self):
        arn = _tagged_arn(self.path)
        return json.dumps({"Tags": self.backup_backend.list_tags(resource_arn=arn) if arn else {}})

    response.list_tags = list_tags

    response.create_backup_selection = create_backup_selection
    response.get_backup_selection = get_backup_selection
    response.list_backup_selections = list_backup_selections
    response.delete_backup_selection = delete_backup_selection
