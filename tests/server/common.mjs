// common.mjs — what e2e.mjs and page.mjs share: the timeout scale and the command-line / environment
// options naming the servers under test.

// slow builds (ThreadSanitizer: make tsan-test) scale every timeout
export const SCALE = Number(process.env.ZETA_TEST_TIMEOUT_SCALE || 1);

const argv = process.argv.slice(2);
// the value of --NAME, else of the environment variable env, else null
export function arg(name, env) {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < argv.length) return argv[i + 1];
  return process.env[env] || null;
}
export const url = (arg('url', 'ZETA_URL') || '').replace(/\/+$/, '');
export const authUrl = (arg('auth-url', 'ZETA_AUTH_URL') || '').replace(/\/+$/, '');
export const apiKey = arg('api-key', 'ZETA_API_KEY');
