"""After the call: the steps of the post-call state machine (statemachines/post_call.asl.json).

analyze → update the contact + write the note → plan and run the actions → emit CallCompleted and
the CRM webhook → finalize the call's result. Every step is idempotent: it writes with
deterministic ids, so a retried or repeated step leaves one set of records."""
