/** The owner kinds attribution gives a namespace (nsm ls's NAME column), for `--owner KIND`. */
import { CGROUP_OWNER_KINDS } from './cgroup-owners.js';

/** Every kind attribution produces, for validating `--owner KIND`. */
export const OWNER_KINDS: readonly string[] = ['nsm', 'netns', 'docker-netns', ...CGROUP_OWNER_KINDS];
