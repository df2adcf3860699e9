"""Points: score events, member scores, rules administration, integration tokens, dues.

Points are a reference, never the measure of a person: every answer that shows points says so in `notice`.
"""
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import (current_integration, current_user, integration_tokens, issue_integration_token,
                    revoke_integration_token)
from ..schemas.scoring import (NOTICE_DOC, DuesPaymentIn, DuesPaymentOut, DuesPaymentQuery, IntegrationTokenCreatedOut,
                               IntegrationTokenIn, IntegrationTokenOut, MemberScoreOut, ScoreEventsIn, ScoreIngestOut,
                               ScorePeriodQuery, ScoreRuleAuditOut, ScoreRuleIn, ScoreRuleOut, ScoreRuleUpdateIn)
from ..services import dues, member_scores, score_rules, scoring

blp = Blueprint("scores", __name__, url_prefix="/api", description="Points: score events, member scores, rules "
                "administration, dues. " + NOTICE_DOC)


@blp.route("/score-events")
class ScoreEvents(MethodView):
    @blp.arguments(ScoreEventsIn)
    @blp.response(200, ScoreIngestOut)
    def post(self, data):
        """Record 1 to 10,000 platform events through the caps (China-time periods); an id seen before earns nothing.

        Platform admins or an integration token (`Authorization: Bearer itk_...`). The batch is all or nothing:
        422 unknown_members (listed in member_ids), unknown_action, validation_error (naive times, more than
        10,000 events). Points are a reference, never the measure of a person.
        """
        return scoring.ingest(current_user(), current_integration(), data["events"])


@blp.route("/integration-tokens")
class IntegrationTokens(MethodView):
    @blp.arguments(IntegrationTokenIn)
    @blp.response(201, IntegrationTokenCreatedOut)
    def post(self, data):
        """A platform admin issues a token for a system; the token is shown this once (only its hash is kept)."""
        return issue_integration_token(current_user(), data["name"])

    @blp.response(200, IntegrationTokenOut(many=True))
    def get(self):
        """Every integration token, newest first (platform admins)."""
        return integration_tokens(current_user())


@blp.route("/integration-tokens/<int:token_id>/revoke")
class RevokeIntegrationToken(MethodView):
    @blp.response(200, IntegrationTokenOut)
    def post(self, token_id):
        """Revoke a token: its next request is 401 (platform admins)."""
        return revoke_integration_token(current_user(), token_id)


@blp.route("/scores/members/<int:member_id>")
class MemberScore(MethodView):
    @blp.arguments(ScorePeriodQuery, location="query")
    @blp.response(200, MemberScoreOut)
    def get(self, query, member_id):
        """A member's points in a China-time period, real time from the ledger, with every entry.

        Visible to the member and to admins over the member's branch; 404 otherwise; 422 invalid_period.
        Points are a reference, never the measure of a person (see `notice`).
        """
        return member_scores.member_score(current_user(), member_id, query["period"])


@blp.route("/score-rules")
class ScoreRules(MethodView):
    @blp.response(200, ScoreRuleOut(many=True))
    def get(self):
        """The scoring rules in force (any signed-in user). Points are a reference, never the measure of a person."""
        return score_rules.rule_views()

    @blp.arguments(ScoreRuleIn)
    @blp.response(201, ScoreRuleOut)
    def post(self, data):
        """A platform admin adds a rule: a meeting type's points, or a declared-points item (申报积分项).

        `{process_key, points, cap?, cap_period?, category?, label?}`: per meeting to the branch, like the packaged
        meeting rules (custom.meeting.<key>). `{declared: {key, label, points, category?, cap?, cap_period?}}`: an
        item members claim under (custom.declared.<key>, action score_claim.<key>); `points` is its base, `cap` its
        maximum per member per China `cap_period` (default year). Change either later with PUT. 409 rule_exists;
        422 validation_error, not_a_meeting_type, invalid_rule.
        """
        return score_rules.create_rule(current_user(), data)


@blp.route("/score-rules/<rule_id>")
class ScoreRuleById(MethodView):
    @blp.arguments(ScoreRuleUpdateIn)
    @blp.response(200, ScoreRuleOut)
    def put(self, data, rule_id):
        """A platform admin changes points, cap or enabled; applies to events scored from now on; audited.

        422 not_editable for any other field (the rule's logic is code), invalid_rule_change (e.g. a cap on a
        rule without a cap period); 404 rule_not_found.
        """
        return score_rules.update_rule(current_user(), rule_id, data)


@blp.route("/score-rules/<rule_id>/audit")
class ScoreRuleAudit(MethodView):
    @blp.response(200, ScoreRuleAuditOut(many=True))
    def get(self, rule_id):
        """Every change to the rule (who, when, before, after), newest first; platform admins only."""
        return score_rules.audit(current_user(), rule_id)


@blp.route("/dues-payments")
class DuesPayments(MethodView):
    @blp.arguments(DuesPaymentIn)
    @blp.response(201, DuesPaymentOut)
    def post(self, data):
        """Record a dues payment: a platform admin, an admin over the member's branch, or an integration token.

        5 points only for an online payment within the China month it pays for; back-payments and offline
        payments earn 0 but are recorded. 422 paid_in_future. Points are a reference, never the measure of a person.
        """
        return dues.record_payment(current_user(), current_integration(), data)

    @blp.arguments(DuesPaymentQuery, location="query")
    @blp.response(200, DuesPaymentOut(many=True))
    def get(self, query):
        """Payments the caller may see, newest month first; filters member_id, org_id (its subtree), month."""
        return dues.list_payments(current_user(), query)
