export interface CompletionSpec { id: string; flags: string[]; stages: boolean }

/** bash (zsh via bashcompinit) and fish; stage names come from `dvcl completion --stages` at each Tab. */
export function completionScript(shell: 'bash' | 'zsh' | 'fish', bin: string, cmds: CompletionSpec[]): string {
  const names = cmds.map((c) => c.id).join(' ');
  const withStages = cmds.filter((c) => c.stages).map((c) => c.id);
  if (shell === 'fish') {
    return [
      `# ${bin} completion for fish: ${bin} completion fish > ~/.config/fish/completions/${bin}.fish`,
      `complete -c ${bin} -f`,
      `complete -c ${bin} -n '__fish_use_subcommand' -a '${names}'`,
      ...cmds.flatMap((c) => c.flags.map((f) => `complete -c ${bin} -n '__fish_seen_subcommand_from ${c.id}' -l ${f.slice(2)}`)),
      `complete -c ${bin} -n '__fish_seen_subcommand_from ${withStages.join(' ')}' -a '(${bin} completion --stages 2>/dev/null)'`,
      '',
    ].join('\n');
  }
  const fn = `_${bin.replace(/\W/g, '_')}`;
  return `# ${bin} completion for ${shell}: add to ~/.${shell}rc:  source <(${bin} completion ${shell})
${shell === 'zsh' ? 'autoload -U +X bashcompinit && bashcompinit\n' : ''}${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} flags=
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${names}" -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cmds.map((c) => `    ${c.id}) flags="${c.flags.join(' ')}" ;;`).join('\n')}
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags --json --help" -- "$cur"))
  else
    case "\${COMP_WORDS[1]}" in
      ${withStages.join('|')}) COMPREPLY=($(compgen -W "$(${bin} completion --stages 2>/dev/null)" -- "$cur")) ;;
    esac
  fi
}
complete -F ${fn} ${bin}
`;
}
