"""Imports every ORM model so the metadata is complete (Alembic, tests)."""

from engine.auth.models import ApiKey
from engine.canned.models import CannedReply
from engine.cases.models import Case, CaseLink, CaseParticipant, Comment, Mention, Subtask
from engine.changes.models import ChangeRequest
from engine.connectors.models import Connector, ConnectorCursor
from engine.customers.models import Customer, CustomerHandle
from engine.db import Base
from engine.delivery.models import OutboundReply, WebhookDelivery, WebhookSubscription
from engine.events.models import ActivityEvent, OutboxEvent
from engine.experience.models import CsatAnswer, ExperienceWeight
from engine.incidents.models import Incident
from engine.processes.models import ProcessDefinition, ProcessInstanceRecord, ProcessVersion
from engine.queues.models import Queue
from engine.signals.models import Signal, SuppressionRule
from engine.sla.models import SlaCalendar, SlaPolicy
from engine.tasks.models import Task
from engine.timers.models import Timer
from engine.trends.models import Trend, TrendClock, TrendCount, TrendSeries, TrendThreshold

__all__ = [
    "ActivityEvent",
    "ApiKey",
    "Base",
    "CannedReply",
    "Case",
    "CaseLink",
    "CaseParticipant",
    "ChangeRequest",
    "Comment",
    "Connector",
    "ConnectorCursor",
    "CsatAnswer",
    "Customer",
    "CustomerHandle",
    "ExperienceWeight",
    "Incident",
    "Mention",
    "OutboundReply",
    "OutboxEvent",
    "ProcessDefinition",
    "ProcessInstanceRecord",
    "ProcessVersion",
    "Queue",
    "Signal",
    "SlaCalendar",
    "SlaPolicy",
    "Subtask",
    "SuppressionRule",
    "Task",
    "Timer",
    "Trend",
    "TrendClock",
    "TrendCount",
    "TrendSeries",
    "TrendThreshold",
    "WebhookDelivery",
    "WebhookSubscription",
]
