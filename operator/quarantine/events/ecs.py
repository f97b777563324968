"""ECS documents (Elastic Defend for Containers and anything already in ECS).

Their canonical form is the same fields with dotted keys expanded, so the normaliser is the
expansion itself (`expand_dotted`), one call per event on the matcher's path. Every ECS
document is kept (rules exist for file and network events too); which ones a rule looks at
is the rule's business. A document that is not a JSON object is refused, naming its type.
`text`, the JSON the document was decoded from, makes this cheaper; so does `reads`, the
fields the caller reads, which lets dotted keys outside them stay as they are.
"""

from __future__ import annotations

from quarantine.events.expansion import expand_dotted

normalise_ecs = expand_dotted
