/**
 * `nsm ls` spends a fifth of its time waiting for the native scanner. src/cli.ts imports
 * this module before anything else, so for ls the scan starts while Node is still
 * evaluating commander and building the program, on the other CPU; rawScan() then adopts
 * the running scan (src/sys/native-scan.ts). Measured in bench/RESULTS.md.
 */
import { startEarlyScan } from './sys/native-scan.js';

const command = process.argv[2];
if (command === 'ls' || command === 'list') startEarlyScan();
