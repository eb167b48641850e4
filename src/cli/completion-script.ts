export interface CompletionSpec { id: string; flags: string[]; stages: boolean }

/** bash (zsh via bashcompinit) and fish; stage names come from `dvcl completion --stages` at each Tab. */
export function completionScript(shell: 'bash' | 'zsh' | 'fish', bin: string, cmds: CompletionSpec[]): string {
  // A topic's commands (`params diff`) have ids `params:diff`: the first word completes to the topic, the second to its commands.
  const names = [...new Set(cmds.map((c) => c.id.split(':')[0]))].join(' ');
  const topics = new Map<string, string[]>();
  for (const c of cmds) {
    const [topic, sub] = c.id.split(':');
    if (sub !== undefined) topics.set(topic, [...(topics.get(topic) ?? []), sub]);
  }
  const withStages = cmds.filter((c) => c.stages).map((c) => c.id);
  if (shell === 'fish') {
    const seen = (id: string) => id.split(':').map((w) => `__fish_seen_subcommand_from ${w}`).join('; and ');
    return [
      `# ${bin} completion for fish: ${bin} completion fish > ~/.config/fish/completions/${bin}.fish`,
      `complete -c ${bin} -f`,
      `complete -c ${bin} -n '__fish_use_subcommand' -a '${names}'`,
      ...[...topics].map(([topic, subs]) => `complete -c ${bin} -n '${seen(topic)}' -a '${subs.join(' ')}'`),
      ...cmds.flatMap((c) => c.flags.map((f) => `complete -c ${bin} -n '${seen(c.id)}' -l ${f.slice(2)}`)),
      `complete -c ${bin} -n '__fish_seen_subcommand_from ${withStages.join(' ')}' -a '(${bin} completion --stages 2>/dev/null)'`,
      '',
    ].join('\n');
  }
  const fn = `_${bin.replace(/\W/g, '_')}`;
  return `# ${bin} completion for ${shell}: add to ~/.${shell}rc:  source <(${bin} completion ${shell})
${shell === 'zsh' ? 'autoload -U +X bashcompinit && bashcompinit\n' : ''}${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmd=\${COMP_WORDS[1]} flags=
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${names}" -- "$cur"))
    return
  fi
${topics.size ? `  case "$cmd" in
${[...topics].map(([topic, subs]) => `    ${topic})
      if [ "$COMP_CWORD" -eq 2 ]; then COMPREPLY=($(compgen -W "${subs.join(' ')}" -- "$cur")); return; fi
      cmd="$cmd:\${COMP_WORDS[2]}" ;;`).join('\n')}
  esac
` : ''}  case "$cmd" in
${cmds.map((c) => `    ${c.id}) flags="${c.flags.join(' ')}" ;;`).join('\n')}
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags --json --help" -- "$cur"))
  else
    case "$cmd" in
      ${withStages.join('|')}) COMPREPLY=($(compgen -W "$(${bin} completion --stages 2>/dev/null)" -- "$cur")) ;;
    esac
  fi
}
complete -F ${fn} ${bin}
`;
}
