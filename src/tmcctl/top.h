// `tmcctl top`: a live table of every libtmc process, refreshed every interval, with rates
// taken from the difference between two rounds of stats.
#pragma once

namespace tmcctl {

struct TopOptions {
  double interval_s = 1.0;
  int iterations = 0;  // refreshes before exiting; 0 = until interrupted
};

// Runs the view; returns the exit status. On a terminal each refresh clears the screen;
// otherwise tables follow one another, separated by a blank line.
int cmd_top(const TopOptions& options);

}  // namespace tmcctl
