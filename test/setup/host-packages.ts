/**
 * vitest globalSetup: install, once and before any test file starts, the Debian packages the
 * suite exercises for real. A fresh CI machine has none of them, and separate test files
 * each running apt-get at the same time would fight over dpkg's lock.
 *
 * Root only, best effort: a package that cannot be installed shows up later as a test that
 * skips and names the package.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, rmSync, statSync, writeFileSync } from 'node:fs';

/** [package, a file it installs]; installed when the file is missing. */
const PACKAGES: ReadonlyArray<[string, string]> = [
  ['uidmap', '/usr/bin/newuidmap'], // --map-auto (newuidmap/newgidmap)
  ['busybox-static', '/bin/busybox'], // demos/07-mini-container's rootfs
  ['iputils-ping', '/usr/bin/ping'], // --veth and demos/03: ping across the pair
  ['iptables', '/usr/sbin/iptables'], // --nat
  ['zsh', '/usr/bin/zsh'], // nsm completion zsh
  ['fish', '/usr/bin/fish'], // nsm completion fish
  ['prometheus', '/usr/bin/promtool'], // nsm metrics / serve: promtool check metrics, a real server scraping
  ['prometheus-node-exporter', '/usr/bin/prometheus-node-exporter'], // nsm metrics --textfile
  ['man-db', '/usr/bin/man'], // the man pages: man --warnings, man -w after npm install -g
  ['groff-base', '/usr/bin/groff'], // the man pages: groff -man -ww
  ['passt', '/usr/bin/pasta'], // --pasta: a user-mode network for rootless environments
  ['slirp4netns', '/usr/bin/slirp4netns'], // --net-mode slirp4netns: the fallback when pasta is missing
];

/**
 * invoke-rc.d asks policy-rc.d whether a package's maintainer scripts may start its service;
 * 101 means no (Debian's invoke-rc.d(8)). Without it, installing prometheus would start a
 * server on port 9090 and node_exporter on 9100 for good. Put in place for the install only,
 * when the host has none of its own.
 */
const POLICY_RC_D = '/usr/sbin/policy-rc.d';
function withServicesHeldBack(fn: () => void): void {
  if (existsSync(POLICY_RC_D)) return fn();
  writeFileSync(POLICY_RC_D, '#!/bin/sh\n# nsm test set-up: no service starts while it installs packages\nexit 101\n', { mode: 0o755 });
  try {
    fn();
  } finally {
    rmSync(POLICY_RC_D, { force: true });
  }
}

/**
 * pasta (rootless) opens /dev/net/tun as the user: udev makes it mode 0666 on Debian
 * (50-udev-default.rules), a bare container may leave it 0600.
 */
function tunForEveryone(): void {
  try {
    if ((statSync('/dev/net/tun').mode & 0o666) !== 0o666) chmodSync('/dev/net/tun', 0o666);
  } catch {
    // no tun device: the --pasta tests skip and say why
  }
}

export default function setup(): void {
  if (process.geteuid?.() !== 0) return;
  tunForEveryone();
  if (!existsSync('/usr/bin/apt-get')) return;
  const missing = PACKAGES.filter(([, file]) => !existsSync(file)).map(([pkg]) => pkg);
  if (missing.length === 0) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): boolean => spawnSync('apt-get', ['install', '-y', '-qq', ...missing], { env, stdio: 'ignore' }).status === 0;
  process.stderr.write(`test setup: apt-get install ${missing.join(' ')}\n`);
  withServicesHeldBack(() => {
    if (!install()) {
      spawnSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore' });
      if (!install()) process.stderr.write('test setup: apt-get install failed; the tests that need those packages will skip\n');
    }
  });
}
