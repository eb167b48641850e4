import { Args, Flags } from '@oclif/core';
import { DvclCommand } from '../cli/base.js';

export default class Completion extends DvclCommand {
  static override summary = 'Print a shell completion script for bash, zsh or fish';
  static override description = `Prints a script that completes dvcl's commands, their flags and the stage names of the \
project you are in. Load it from your shell's start-up file, as the examples show.`;
  static override args = { shell: Args.string({ ignoreStdin: true, options: ['bash', 'zsh', 'fish'], default: 'bash', description: 'the shell' }) };
  static override flags = { stages: Flags.boolean({ hidden: true, description: 'print the stage names, one per line' }) };
  static override examples = [
    '<%= config.bin %> completion bash   # print the script',
    'source <(<%= config.bin %> completion bash)   # in ~/.bashrc',
    'source <(<%= config.bin %> completion zsh)    # in ~/.zshrc',
    '<%= config.bin %> completion fish > ~/.config/fish/completions/<%= config.bin %>.fish',
  ];

  async run(): Promise<{ script: string } | { stages: string[] }> {
    const { args, flags } = await this.parse(Completion);
    if (flags.stages) {
      const { loadConfig } = await import('../core/config/load.js');
      const stages = loadConfig({ cwd: process.cwd() }).stages.map((s) => s.name);
      if (!this.jsonEnabled()) this.log(stages.join('\n'));
      return { stages };
    }
    const { completionScript } = await import('../cli/completion-script.js');
    const cmds = this.config.commands.filter((c) => !c.hidden).map((c) => ({
      id: c.id,
      flags: Object.entries(c.flags).filter(([name, f]) => !f.hidden && name !== 'json').map(([name]) => `--${name}`),
      stages: Object.keys(c.args).includes('stages') || Object.keys(c.args).includes('stage'),
    }));
    const script = completionScript(args.shell as 'bash' | 'zsh' | 'fish', this.config.bin, cmds);
    if (!this.jsonEnabled()) process.stdout.write(script);
    return { script };
  }
}
