/** The caller's identity as the kernel sees it. */

/** The effective uid: root (0) may do what CAP_SYS_ADMIN allows in the initial namespaces. */
export function effectiveUid(): number {
  return process.geteuid?.() ?? process.getuid?.() ?? 0;
}
