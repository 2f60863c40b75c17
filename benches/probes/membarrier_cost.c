/* The caller's cost of membarrier(GLOBAL_EXPEDITED) with N registered processes spinning on
 * the other core, next to a SeqCst fence and a null system call (docs/benchmarks.md, "The sleep
 * path at scale"). cc -O2 -o membarrier_cost membarrier_cost.c && ./membarrier_cost 1 */
#define _GNU_SOURCE
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
static int mb(int cmd){ return syscall(__NR_membarrier, cmd, 0, 0); }
static double now(){ struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec*1e9+t.tv_nsec; }
static void pin(int c){ cpu_set_t s; CPU_ZERO(&s); CPU_SET(c,&s); sched_setaffinity(0,sizeof s,&s); }
int main(int argc, char**argv){
  int peers = argc>1 ? atoi(argv[1]) : 1;   // registered spinning peers on core 1
  int n = 20000;
  pid_t kids[16];
  for (int i=0;i<peers;i++){ pid_t p=fork(); if(!p){ pin(1); mb(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED); for(;;) __asm__ volatile("pause"); } kids[i]=p; }
  pin(0);
  if (mb(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED)) { perror("register"); return 1; }
  usleep(100000);
  double t0=now(); for(int i=0;i<n;i++) mb(MEMBARRIER_CMD_GLOBAL_EXPEDITED); double t1=now();
  double t2=now(); for(int i=0;i<n;i++) __atomic_thread_fence(__ATOMIC_SEQ_CST); double t3=now();
  double t4=now(); for(int i=0;i<n;i++) syscall(SYS_getppid); double t5=now();
  printf("peers=%d membarrier %.2f us/call, seq_cst fence %.1f ns, null syscall %.2f us\n", peers, (t1-t0)/n/1e3, (t3-t2)/n, (t5-t4)/n/1e3);
  for (int i=0;i<peers;i++) kill(kids[i],9);
  while(wait(NULL)>0);
  return 0;
}
