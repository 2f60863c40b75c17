/* The time a registered process spinning on the other core loses per membarrier(GLOBAL_EXPEDITED)
 * another process issues (docs/benchmarks.md, "The sleep path at scale").
 * cc -O2 -o membarrier_victim membarrier_victim.c && ./membarrier_victim */
#define _GNU_SOURCE
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdio.h>
#include <time.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
static int mb(int cmd){ return syscall(__NR_membarrier, cmd, 0, 0); }
static double now(){ struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec*1e9+t.tv_nsec; }
static void pin(int c){ cpu_set_t s; CPU_ZERO(&s); CPU_SET(c,&s); sched_setaffinity(0,sizeof s,&s); }
int main(){
  volatile unsigned long *ctr = mmap(0,4096,PROT_READ|PROT_WRITE,MAP_SHARED|MAP_ANONYMOUS,-1,0);
  pid_t p=fork(); if(!p){ pin(1); mb(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED); for(;;) { (*ctr)++; } }
  pin(0); mb(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED); usleep(200000);
  // idle window
  unsigned long a=*ctr; double t0=now(); while(now()-t0<200e6){} unsigned long b=*ctr; double idle=(b-a)/((now()-t0));
  // storm window: membarrier as fast as possible
  int calls=0; a=*ctr; t0=now(); while(now()-t0<200e6){ mb(MEMBARRIER_CMD_GLOBAL_EXPEDITED); calls++; } b=*ctr; double el=now()-t0; double storm=(b-a)/el;
  double lost = 1.0 - storm/idle; // fraction of the victim's time lost
  printf("victim: %.0f%% of its time lost at %.0f barriers/s => %.2f us of the victim's time per barrier\n", lost*100, calls/(el/1e9), lost*el/1e3/calls);
  kill(p,9); wait(0); return 0;
}
