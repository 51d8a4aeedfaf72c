import * as vscode from 'vscode';
import { RegistryError, RegistryUnreachableError } from '../../client/index.js';
import { NotConnectedError } from '../connection.js';
import { COMMANDS, type CommandId } from './ids.js';

/** A problem the user can act on: shown as it is. */
export class UserError extends Error {}

/** Registers a command whose failures reach the user in plain words, never as a stack trace. */
export function command(id: CommandId, run: (...args: any[]) => unknown): vscode.Disposable {
  return vscode.commands.registerCommand(id, async (...args: unknown[]) => {
    try {
      return await run(...args);
    } catch (err) {
      if (err instanceof vscode.CancellationError) return undefined;
      const message =
        err instanceof RegistryError || err instanceof UserError || err instanceof NotConnectedError || err instanceof RegistryUnreachableError
          ? err.message
          : `Prompt Registry: ${err instanceof Error ? err.message : String(err)}`;
      if (err instanceof NotConnectedError) {
        void vscode.window.showErrorMessage(message, 'Retry', 'Show Connection').then((choice) => {
          if (choice === 'Retry') void vscode.commands.executeCommand(COMMANDS.retry);
          if (choice === 'Show Connection') void vscode.commands.executeCommand(COMMANDS.showConnection);
        });
      } else {
        void vscode.window.showErrorMessage(message);
      }
      return undefined;
    }
  });
}

/** Cancelled pickers end the command quietly. */
export function picked<T>(value: T | undefined): T {
  if (value === undefined) throw new vscode.CancellationError();
  return value;
}
