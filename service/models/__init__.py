"""The relational model: organisations and people, process state, meetings, attachments, notices."""
from .orgs import Org, ORG_KINDS
from .people import Member, User, RoleGrant
from .process import ProcessDefinition, ProcessInstance, HumanTask, TaskEvent, JobLock, ProcessType, OrgProcessSetting
from .meetings import Meeting, Attendance, Minutes, MinutesRevision, PeerAssessment, Attachment, Notification
from .transfers import Transfer, OrgTransfer
from .registry import MembershipPeriod, ExemptionRequest, MemberFlow, FlowReport
from .scoring import (ScoreEvent, ScoreEntry, ScoreCounter, VideoProgress, VideoDay, ScoreRuleSetting, ScoreRuleAudit,
                      IntegrationToken, DuesPayment, ScoreClaim, OrgScore, Leaderboard, ComplianceRow, CustomScoreRule,
                      ComplianceSetting)

__all__ = ["Org", "ORG_KINDS", "Member", "User", "RoleGrant", "ProcessDefinition", "ProcessInstance",
           "HumanTask", "TaskEvent", "JobLock", "Meeting", "Attendance", "Minutes",
           "MinutesRevision", "PeerAssessment", "Attachment", "Notification", "Transfer", "OrgTransfer",
           "MembershipPeriod", "ExemptionRequest", "MemberFlow", "FlowReport", "ScoreEvent", "ScoreEntry",
           "ScoreCounter", "VideoProgress", "VideoDay", "ScoreRuleSetting", "ScoreRuleAudit", "IntegrationToken",
           "DuesPayment", "ScoreClaim", "OrgScore", "Leaderboard", "ComplianceRow", "ProcessType",
           "OrgProcessSetting", "CustomScoreRule", "ComplianceSetting"]
