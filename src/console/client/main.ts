/// <reference lib="dom" />
import { startConsole } from './console.js';

// The page's one start, as src/main.ts is the server's: everything else only defines.
startConsole(document.getElementById('app')!);
