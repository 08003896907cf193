// Loads the wasm module of the web client.
import init from "/zencast_web.js";
init("/zencast_web_bg.wasm");
