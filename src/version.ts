/** nsm's version, kept in step with package.json (a unit test checks they agree). */
export const VERSION = '0.1.0';
