/**
 * The activator as a systemd service, for hosts where systemd is PID 1: started at boot, so held
 * ports are held again after a reboot without anyone running `ctr start`, and restarted if it dies.
 */
import {daemonArgs} from './client.js'

/** A unit file (ctr-activator.service) running this install's activator for ROOT. */
export function activatorUnitText(root: string, execPath = process.execPath, args = daemonArgs(root, false)): string {
  // systemd's own quoting; % starts a specifier, so it is doubled.
  const quote = (word: string) => {
    const escaped = word.replaceAll('%', '%%')
    return /^[\w@%+=:,./-]+$/.test(escaped) ? escaped : `"${escaped.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
  }
  return [
    '# Written by ctr activator --unit.',
    '[Unit]',
    `Description=ctr activator for ${root}: holds the ports of sleeping containers, boots them on a connection`,
    'After=network.target local-fs.target',
    '',
    '[Service]',
    `ExecStart=${[execPath, ...args].map(quote).join(' ')}`,
    // Signals to the activator alone, never to the rest of its cgroup: on a stop it powers its
    // containers off in order and ends its socket holder itself; when it dies (a crash, an OOM kill)
    // the holder lives on with every port, and the restarted activator takes them back from it.
    // (KillMode=mixed would SIGKILL the holder with it, closing every held port until the restart.)
    'KillMode=process',
    'TimeoutStopSec=90',
    'Restart=on-failure',
    'RestartSec=1',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n')
}
