/** The `.prompt` file the extension tests author: front matter with samples for two of its three variables. */
export const GREETING_FRONT_MATTER = `---
name: greeting
description: Greets a customer
tags: [demo]
model: gpt-4o
temperature: 0.2
samples:
  name: Ann
  company: Acme
---
`;

export const GREETING = `${GREETING_FRONT_MATTER}Hello {{name}}, welcome to {{company}}!
Your order {{order}} ships today.
`;
