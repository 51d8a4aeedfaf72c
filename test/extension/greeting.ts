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

/** A chat `.prompt` file (Dotprompt form): a system message including the safety partial, the history placeholder, a user message. */
export const SUPPORT_CHAT = `---
name: support-reply
description: Answers support tickets
model: openai/gpt-4o
config:
  temperature: 0.2
  maxOutputTokens: 400
input:
  schema:
    company: string, the brand answering
    question: string, what the customer asked
    vip?: boolean, a gold-tier customer
promptRegistry.tags: [support]
promptRegistry.samples:
  company: Acme
  question: Where is my parcel?
  vip: true
  history:
    - role: user
      content: Hi, I ordered boots last week.
    - role: assistant
      content: Thanks! What is the order number?
---
{{role "system"}}
You answer customers of {{company}}.
{{> safety}}
{{#if vip}}Be extra polite.{{/if}}
{{history}}
{{role "user"}}
{{question}}
`;

/** The next version of it: the system message reworded, a lower temperature, JSON output. */
export const SUPPORT_CHAT_V2 = SUPPORT_CHAT.replace('temperature: 0.2', 'temperature: 0.1')
  .replace('You answer customers of {{company}}.', 'You answer customers of {{company}} in two sentences.')
  .replace('promptRegistry.tags', 'output:\n  format: json\npromptRegistry.tags')
  .replace('{{question}}\n', '{{question}}\n{{role "model"}}\nLet me check.\n');

/** The partial the chat includes, a text prompt of its own. */
export const SAFETY = `---
name: safety
promptRegistry.samples: {}
---
Never share payment details.
`;
