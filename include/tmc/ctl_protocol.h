/* The control protocol between a process running libtmc and tmcctl.
 *
 * Transport: an abstract unix stream socket "@tmc.PID" (the name starts with a NUL byte).
 * Access: the server answers only peers with its effective uid, or root.
 * Request: one line, "COMMAND [ARGS]\n", at most TMC_CTL_MAX_REQUEST bytes.
 * Reply: the command's output; the server then closes the connection. Errors are one line
 * starting with "error: ".
 *
 * Commands:
 *   version          "libtmc 0.1.0 active|passthrough\n"
 *   stats            one JSON object: every field of tmc/stats.def, integer values
 *   options          JSON array of {"name","value","default","accepts","doc"}
 *   target VALUE     sets TMC_TARGET (a size, N% of peak RSS, or off); "TMC_TARGET=VALUE\n"
 *   restore          brings every evicted page back; "restored N pages\n" once done
 */
#ifndef TMC_CTL_PROTOCOL_H
#define TMC_CTL_PROTOCOL_H

#define TMC_CTL_SOCKET_PREFIX "tmc."
#define TMC_CTL_MAX_REQUEST 256
#define TMC_CTL_MAX_REPLY 65536

#endif
