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
 *   sites            the allocation-site profile (TMC_SITES), text lines:
 *                      "tmc-sites 1", "sample_interval_bytes N", "heap_bytes N",
 *                      "live_samples N", "sites N" (distinct stacks),
 *                      "total S OBJ BYTES EVICTED FAULTS FREED LIFETIME_NS",
 *                      then the largest sites by live bytes, one per line:
 *                      "site ID S OBJ BYTES EVICTED FAULTS FREED LIFETIME_NS FRAMES",
 *                      then "rest N S OBJ ..." (the sites not listed, summed) and "end".
 *                    S: live samples; OBJ, BYTES: estimated live objects and bytes;
 *                    EVICTED: estimated bytes of them on evicted pages; FAULTS: estimated
 *                    faults on their pages since start (cumulative; a page holding k of
 *                    them counts k times); FREED: estimated objects freed since start;
 *                    LIFETIME_NS: their summed lifetimes (divide by FREED for the mean);
 *                    FRAMES: return addresses in the process, innermost first, hex, comma
 *                    separated ("-" if none).
 */
#ifndef TMC_CTL_PROTOCOL_H
#define TMC_CTL_PROTOCOL_H

#define TMC_CTL_SOCKET_PREFIX "tmc."
#define TMC_CTL_MAX_REQUEST 256
#define TMC_CTL_MAX_REPLY (256 * 1024)

#endif
