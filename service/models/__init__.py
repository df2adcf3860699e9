"""The relational model: organisations and people, process state, meetings, attachments, notices."""
from .orgs import Org, ORG_KINDS
from .people import Member, User, RoleGrant
from .process import ProcessDefinition, ProcessInstance, HumanTask, TaskEvent, JobLock
from .meetings import Meeting, Attendance, Minutes, MinutesRevision, PeerAssessment, Attachment, Notification

__all__ = ["Org", "ORG_KINDS", "Member", "User", "RoleGrant", "ProcessDefinition", "ProcessInstance",
           "HumanTask", "TaskEvent", "JobLock", "Meeting", "Attendance", "Minutes",
           "MinutesRevision", "PeerAssessment", "Attachment", "Notification"]
