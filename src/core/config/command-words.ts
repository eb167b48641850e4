// Which words of a simple command a shell reads again as a script: the one after `sh -c` (or
// `su … -c`), every argument of `eval`; and whether the command is an `ssh`.

const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'yash']);
/** Programs that hand the argument of their `-c` to a shell, after arguments of their own. */
const WRAPPERS = new Set(['su', 'runuser', 'flock', 'script']);
const EVALS = new Set(['eval', 'watch', 'parallel']);
export type Mode = 'plain' | 'shell' | 'wrapper' | 'script-next' | 'script-all' | 'ssh' | 'args';

export type CommandState = [Mode, boolean];

export class CommandWords {
  mode: Mode = 'plain';
  private optArg = false;

  newCommand(): void {
    this.mode = 'plain';
    this.optArg = false;
  }

  wordDone(word: string): void {
    const w = word.replace(/['"\\]/g, '');
    const base = w.slice(w.lastIndexOf('/') + 1);
    const dashC = /^-[a-zA-Z]*c[a-zA-Z]*$/.test(w) || w === '--command';
    switch (this.mode) {
      case 'plain':
        if (SHELLS.has(base)) this.mode = 'shell';
        else if (WRAPPERS.has(base)) this.mode = 'wrapper';
        else if (EVALS.has(base)) this.mode = 'script-all';
        else if (base === 'ssh') this.mode = 'ssh';
        break;
      case 'shell':
        // `bash -e -o pipefail -c '…'`: options, then the script; a first other word is a script file.
        if (this.optArg) this.optArg = false;
        else if (dashC) this.mode = 'script-next';
        else if (w === '-o' || w === '+o') this.optArg = true;
        else if (!/^[-+]/.test(w)) this.mode = 'args';
        break;
      case 'wrapper':
        if (dashC) this.mode = 'script-next';
        break;
      case 'script-next':
        this.mode = 'args';
        break;
      default:
    }
  }

  save(): CommandState {
    const saved: CommandState = [this.mode, this.optArg];
    this.newCommand();
    return saved;
  }

  restore([mode, optArg]: CommandState): void {
    this.mode = mode;
    this.optArg = optArg;
  }
}
