"""The inbox: list, read, claim, comment and complete human tasks."""
from sqlalchemy import and_, or_, select

from ..database import transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import HumanTask, Org, ProcessInstance
from . import access, runtime

ADMIN_LANES = {"branch_admin", "superior_admin", "sending_admin", "receiving_admin"}


def _candidate_clause(user):
    """SQL for 'tasks this user may complete': lane role + org grant, or assigned to them."""
    clauses = [HumanTask.assignee_id == user.id]
    admin_orgs = access.admin_org_ids(user)
    if admin_orgs:
        clauses.append(and_(HumanTask.role.in_(ADMIN_LANES), HumanTask.org_id.in_(admin_orgs)))
    if access.is_platform_admin(user):
        clauses.append(HumanTask.role == "platform_admin")
    return or_(*clauses)


def is_candidate(user, task: HumanTask) -> bool:
    """Whether the user may complete the task (ignoring claims)."""
    if task.assignee_id == user.id:
        return True
    if task.role in ADMIN_LANES:
        return task.org_id in access.admin_org_ids(user)
    return task.role == "platform_admin" and access.is_platform_admin(user)


def list_tasks(user, state: str, filters: dict) -> list[HumanTask]:
    """Open tasks the caller may complete (claimed ones only for their claimant), or those they completed."""
    if state == "completed":
        query = select(HumanTask).where(HumanTask.state == "completed", HumanTask.completed_by == user.id)
    else:
        query = select(HumanTask).where(HumanTask.state == "open", _candidate_clause(user),
                                        or_(HumanTask.assignee_id.is_(None), HumanTask.assignee_id == user.id))
    for name in ("process_key", "org_id"):
        if filters.get(name) is not None:
            query = query.where(getattr(HumanTask, name) == filters[name])
    if filters.get("overdue") is not None:
        now = utcnow()
        query = query.where(and_(HumanTask.due_at.is_not(None), HumanTask.due_at < now) if filters["overdue"]
                            else or_(HumanTask.due_at.is_(None), HumanTask.due_at >= now))
    order = HumanTask.completed_at.desc() if state == "completed" else HumanTask.id
    return list(db.session.scalars(query.order_by(order).limit(filters.get("limit") or 200)))


def get_visible(user, task_id: int) -> HumanTask:
    """The task if the caller may see it (candidate, completer, or admin over its org); else 404."""
    task = db.session.get(HumanTask, task_id)
    if task is None or not _can_see(user, task):
        raise ApiError("task_not_found", 404, f"Task {task_id} does not exist.")
    return task


def _can_see(user, task: HumanTask) -> bool:
    if is_candidate(user, task) or task.completed_by == user.id:
        return True
    return task.org_id is not None and access.administers(user, db.session.get(Org, task.org_id))


def _load_for_action(user, task_id: int, claiming: bool = False) -> HumanTask:
    """The task if the caller is a candidate (403), still open (409) and not claimed by another (403)."""
    task = db.session.get(HumanTask, task_id)
    if task is None:
        raise ApiError("task_not_found", 404, f"Task {task_id} does not exist.")
    if not is_candidate(user, task):
        raise ApiError("not_candidate", 403, f"You may not act on task {task.id}.")
    if task.state != "open":
        raise ApiError("task_not_open", 409, f"Task {task.id} is {task.state}.")
    if task.assignee_id not in (None, user.id):
        if claiming:
            raise ApiError("task_claimed", 409, f"Task {task.id} is claimed by someone else.")
        raise ApiError("not_candidate", 403, f"Task {task.id} is claimed by someone else.")
    return task


@transactional
def complete(user, task_id: int, data: dict):
    """Complete a task: one transaction for state, inbox rows, side effects and audit."""
    return runtime.complete(_load_for_action(user, task_id), user, data)


def _set_assignee(task: HumanTask, user, new_assignee: int | None) -> None:
    # Conditional, so two candidates claiming at once cannot both be told they hold the task.
    runtime.update_open_task(
        task, [or_(HumanTask.assignee_id.is_(None), HumanTask.assignee_id == user.id)],
        ApiError("task_claimed", 409, f"Task {task.id} was just claimed or completed by someone else."),
        assignee_id=new_assignee)


@transactional
def claim(user, task_id: int) -> HumanTask:
    """Take a task so it leaves the other candidates' lists."""
    task = _load_for_action(user, task_id, claiming=True)
    _set_assignee(task, user, user.id)
    runtime.record_event(db.session.get(ProcessInstance, task.instance_id), task, "claim", user)
    return task


@transactional
def unclaim(user, task_id: int) -> HumanTask:
    """Give a claimed task back to all candidates."""
    task = _load_for_action(user, task_id)
    _set_assignee(task, user, None)
    runtime.record_event(db.session.get(ProcessInstance, task.instance_id), task, "unclaim", user)
    return task


@transactional
def comment(user, task_id: int, text: str):
    """Add a comment to the task's timeline."""
    task = get_visible(user, task_id)
    return runtime.record_event(db.session.get(ProcessInstance, task.instance_id), task, "comment", user,
                                comment=text)
