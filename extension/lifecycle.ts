import type * as vscode from 'vscode';

/** Owns disposables: everything registered is disposed with it, so nothing leaks. */
export abstract class Disposable implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private disposed = false;

  protected _register<T extends vscode.Disposable>(d: T): T {
    if (this.disposed) d.dispose();
    else this.disposables.push(d);
    return d;
  }

  dispose(): void {
    this.disposed = true;
    while (this.disposables.length) this.disposables.pop()!.dispose();
  }
}
