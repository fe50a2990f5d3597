/**
 * The real ser2net for the console tests: the product's runner (src/vobs/ser2net.ts), which `obsbuild vm
 * --console-server` uses too. Not a test file.
 */
export { Ser2net } from '../../src/vobs/ser2net.js';
export { freePort } from '../../src/vobs/free-port.js';
