"""Every event type Sift records, and whether it goes to the outbox (and so to webhooks).

``tests/engine/test_event_types.py`` checks that every type the engine records is here and that
docs/api.md lists each one; a webhook subscription may name only a delivered type (or ``*``, or
a prefix such as ``case.*``).
"""

from __future__ import annotations

# type -> (delivered to webhooks, what it means)
EVENT_TYPES: dict[str, tuple[bool, str]] = {
    "case.opened": (True, "a signal opened a case"),
    "case.updated": (True, "priority, topic or queue changed"),
    "case.claimed": (True, "a CSR took the case"),
    "case.released": (True, "the holder let the case go"),
    "case.assigned": (True, "a supervisor assigned the case"),
    "case.commented": (True, "a comment or internal note was added (data.internal, data.mentions)"),
    "case.participant_added": (
        True,
        "a key holder from a department joined the case (data.user, data.department)",
    ),
    "case.participant_removed": (True, "a participant left the case"),
    "subtask.created": (True, "a subtask was assigned to a participant of the case"),
    "subtask.completed": (True, "a participant's subtask was completed (data.note)"),
    "case.linked": (True, "a link to another case was added (on both cases)"),
    "case.unlinked": (True, "a link to another case was removed (on both cases)"),
    "case.merged": (True, "a case was merged into another (on both cases)"),
    "case.waiting": (True, "the case waits on the customer"),
    "case.resolved": (True, "the case was resolved"),
    "case.closed": (True, "the case was closed"),
    "case.reopened": (True, "a resolved case was reopened"),
    "case.status_changed": (True, "any other move between statuses"),
    "case.note": (True, "the process wrote a note"),
    "case.escalated": (True, "the process escalated the case"),
    "case.stage_changed": (True, "the case entered another stage of its process"),
    "task.created": (False, "a user task opened (timeline only)"),
    "task.completed": (True, "a user task was completed"),
    "task.cancelled": (True, "a user task ended without completion"),
    "task.writing_started": (True, "someone started writing on a task (collision detection)"),
    "task.writing_stopped": (True, "someone stopped writing on a task before completing it"),
    "signal.attached": (True, "a signal joined an open case"),
    "signal.duplicate": (True, "a signal repeated one already recorded in this case"),
    "suppression.created": (True, "a suppression rule was created"),
    "suppression.deleted": (True, "a suppression rule was deleted"),
    "sla.warning": (True, "an SLA clock reached its warning"),
    "sla.breached": (True, "an SLA clock passed its deadline"),
    "sla.passed_deadline": (True, "a repetition after the deadline"),
    "sla.notified": (True, "an SLA level asked to notify supervisors"),
    "sla.policy_changed": (True, "an SLA policy was created or replaced"),
    "sla.calendar_changed": (True, "a business calendar was created or replaced"),
    "csat.received": (True, "the customer answered the satisfaction survey of a case"),
    "experience.weights_changed": (True, "the weights of the experience score changed"),
    "process.uploaded": (True, "a BPMN or DMN version was uploaded"),
    "process.deployed": (True, "a version was deployed"),
    "incident.opened": (True, "a script, service call or expression failed; its task waits for a retry"),
    "incident.resolved": (True, "the failed task ran after a retry, or the process moved past it"),
    "customers.imported": (False, "a customer CSV was imported (audit only)"),
    "key.created": (False, "an API key was created (audit only)"),
    "key.revoked": (False, "an API key was revoked (audit only)"),
    "reply.queued": (True, "a CSR's reply is queued for the customer's channel"),
    "reply.sent": (True, "the channel adapter accepted the reply"),
    "reply.failed": (True, "an attempt to send the reply failed (retried unless final)"),
    "reply.drafted": (False, "the assistant drafted a reply for a CSR to edit (timeline only)"),
    "agent.updated": (True, "a CSR's presence, capacity, skills or queues changed"),
    "queue.updated": (True, "a queue's strategy or required skills changed"),
    "canned_reply.created": (True, "a canned reply was created"),
    "canned_reply.updated": (True, "a canned reply was changed"),
    "canned_reply.deleted": (True, "a canned reply was deleted"),
    "trend.detected": (
        True,
        "a series spiked: on its investigation's timeline, or audit for entity/keyword trends",
    ),
    "trend.attached": (True, "a later spike joined the topic's open investigation as evidence"),
    "trend.paged": (True, "a severe trend pages the supervisor"),
    "trend.case_linked": (True, "a reactive case became a child of its topic's investigation"),
    "investigation.communicated": (True, "an investigation answered its linked cases with one canned reply"),
    "change_request.opened": (True, "an investigation asked for a change to a process"),
    "change_request.tested": (True, "a version was replay-tested against the investigation's signals"),
    "change_request.approved": (True, "a process owner approved a tested version for the change"),
    "change_request.deployed": (True, "the approved version was deployed; the investigation goes on"),
    "process.instance_migrated": (True, "the case's process instance moved to another version"),
    "process.migrated": (True, "a bulk migration moved a version's running instances"),
    "trend.thresholds_changed": (True, "a topic's trend thresholds were created or replaced"),
    "connector.created": (True, "a listening connector was configured"),
    "connector.updated": (True, "a connector's query, options, credentials or state changed"),
    "connector.deleted": (True, "a connector was deleted (its cursors with it)"),
    "webhook.created": (True, "a webhook subscription was created"),
    "webhook.deleted": (True, "a webhook subscription was deleted"),
    "webhook.disabled": (True, "a subscription was disabled after repeated failures"),
    "webhook.enabled": (True, "a disabled subscription was enabled again"),
}


def delivered(event_type: str) -> bool:
    known = EVENT_TYPES.get(event_type)
    return bool(known and known[0])


def matches(patterns: list[str], event_type: str) -> bool:
    """``*`` is every type; ``case.*`` every type that starts with ``case.``."""
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False
