import * as vscode from 'vscode';
import { OAuthError, SignInCancelledError } from '../../client/index.js';
import { SignInUnavailableError, type Accounts, type PendingSignIn } from '../auth/accounts.js';
import type { Settings } from '../config.js';
import { Disposable } from '../lifecycle.js';
import { command, UserError } from './ui.js';
import { COMMANDS } from './ids.js';

/** Sign In (device flow) and Sign Out, and telling the user when a sign-in expired. */
export class SignInCommands extends Disposable {
  /** The device flow being waited for: a second Sign In cancels it. */
  private active: AbortController | undefined;

  constructor(
    private readonly accounts: Accounts,
    private readonly settings: Settings,
  ) {
    super();
    this._register(command(COMMANDS.signIn, () => this.signIn()));
    this._register(command(COMMANDS.signOut, () => this.signOut()));
    // The link in the sign-in notification (not in the palette: it only means something while signing in).
    this._register(command(COMMANDS.openSignInPage, () => this.openSignInPage()));
    this._register({ dispose: () => this.active?.abort() });
    this._register(
      accounts.onDidChange((why) => {
        if (why !== 'expired') return;
        void vscode.window.showWarningMessage('Your sign-in to the Prompt Registry has expired. Sign in again to go on.', 'Sign In').then((choice) => {
          if (choice) void vscode.commands.executeCommand(COMMANDS.signIn);
        });
      }),
    );
  }

  /** Resolves with who signed in, or undefined when there was nothing to sign in to or it was cancelled. */
  async signIn(): Promise<string | undefined> {
    const url = this.settings.serverUrl;
    if (!url) {
      void vscode.window.showInformationMessage('Sign-in is for a shared registry: the bundled local one needs none. To use a shared registry, set "promptRegistry.serverUrl" first.', 'Open Settings').then((c) => {
        if (c) void vscode.commands.executeCommand('workbench.action.openSettings', 'promptRegistry.serverUrl');
      });
      return undefined;
    }
    let pending: PendingSignIn;
    try {
      pending = await this.accounts.start(url);
    } catch (err) {
      throw this.userError(err);
    }
    const { device } = pending;
    // Both hosts: the user should see which registry the tokens will go to, not only where they sign in.
    const title = `Signing in to ${new URL(url).host} with ${new URL(pending.meta.issuer).host}`;
    try {
      const session = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title, cancellable: true },
        async (progress, token) => {
          // One notification, gone when the flow ends: the code, where to enter it, and a link that does both.
          progress.report({ message: `enter code ${device.userCode} at ${device.verificationUri}. [Copy Code and Open Browser](command:${COMMANDS.openSignInPage})` });
          this.active?.abort();
          const abort = (this.active = new AbortController());
          const cancelled = token.onCancellationRequested(() => abort.abort());
          try {
            return await this.accounts.finish(pending, abort.signal);
          } finally {
            cancelled.dispose();
            if (this.active === abort) this.active = undefined;
          }
        },
      );
      void vscode.window.showInformationMessage(`Signed in to the Prompt Registry at ${url} as ${session.identity.label}.`);
      return session.identity.label;
    } catch (err) {
      if (err instanceof SignInCancelledError) return undefined;
      throw this.userError(err);
    }
  }

  /** Copies the code and opens the provider's page (with the code in it, when the provider gives such a link); works in remote and browser-hosted VS Code too. */
  private async openSignInPage(): Promise<void> {
    const device = this.accounts.pending?.device;
    if (!device) return;
    await vscode.env.clipboard.writeText(device.userCode);
    await vscode.env.openExternal(vscode.Uri.parse(device.verificationUriComplete ?? device.verificationUri));
  }

  async signOut(): Promise<void> {
    const current = this.accounts.signedIn;
    if (!current) {
      void vscode.window.showInformationMessage('You are not signed in to the Prompt Registry.');
      return;
    }
    await this.accounts.signOut();
    void vscode.window.showInformationMessage(`Signed out of the Prompt Registry at ${current.url} (${current.session.identity.label}).`);
  }

  private userError(err: unknown): unknown {
    if (err instanceof SignInUnavailableError) return new UserError(err.message);
    if (err instanceof OAuthError) return new UserError(`Sign-in failed: ${err.message}.`);
    return err;
  }
}
