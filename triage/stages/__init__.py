"""The stages a message meets, in this order (``triage.pipeline`` composes them):

1. ``guard``: sentences that try to instruct the system are set apart (customer text is data);
2. ``signals``: what the message says about its situation, anger and repeat contact, read once;
3. ``language``: Korean, English or other;
4. search (``knowledge.search``) and ``answering``: the FAQ entry that answers it, or a hand-off and its reason;
5. ``tagging``: exactly one tag (the most urgent issue), or the catch-all for review;
6. ``history``: an earlier contact of the customer on the same issue;
7. ``priority``: P1–P4 with its reasons, under the deployment's policy (``triage.policy``);
8. ``customer``: the segment and the context that shapes the reply;
9. ``drafting``: the real need and a reply draft for the agent, checked by ``reply_lint``;
10. ``privacy``: personal data kept out of prompts, logs and stored text, used by every stage that writes.
"""
